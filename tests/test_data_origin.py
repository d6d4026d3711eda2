"""Origin on every figure: a landed file is ``generated`` exactly when a generator manifest
in one of its folders lists it with the same content, and the marts carry it to every row."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import psycopg
import pytest
from conftest import REPO, build_and_publish, run_dag

from lumbung.landing import GENERATED_MANIFEST, data_origin

YEAR = 2024
REAL = "1801042001"  # a desa of the vendored real IDM sample
GENERATED = "1813012001"  # Pesisir Barat: no real IDM file; its file is listed, same content
EDITED = "1813012002"  # listed by the manifest, but edited afterwards: real


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_manifest(folder: Path, files: dict[str, str]) -> None:
    (folder / GENERATED_MANIFEST).write_text(
        json.dumps({"generator": "lumbung generate", "files": files}), encoding="utf-8")


def test_data_origin_follows_the_manifest(tmp_path):
    out = tmp_path / "out"
    listed, edited, unlisted = (out / "a" / "x.csv", out / "a" / "y.csv", out / "b" / "z.csv")
    for path in (listed, edited, unlisted):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{path.name}\n", encoding="utf-8")
    _write_manifest(out, {"a/x.csv": _sha(listed), "a/y.csv": _sha(edited)})
    edited.write_text("changed by hand\n", encoding="utf-8")
    assert data_origin(listed, _sha(listed)) == "generated"
    assert data_origin(edited, _sha(edited)) == "real"
    assert data_origin(unlisted, _sha(unlisted)) == "real"
    # a manifest further up lists paths relative to its own folder
    _write_manifest(tmp_path, {"out/b/z.csv": _sha(unlisted)})
    assert data_origin(unlisted, _sha(unlisted)) == "generated"


def _response_for() -> str:
    """The real 2024 response of REAL, as if served for another desa: same scores, no
    IDENTITAS (the gate checks it against the file's desa when present)."""
    source = REPO / "data" / "landing" / "idm" / f"tahun={YEAR}" / f"{REAL}.json"
    body = json.loads(source.read_text(encoding="utf-8"))
    body["mapData"].pop("IDENTITAS", None)
    return json.dumps(body, ensure_ascii=False)


@pytest.fixture(scope="module")
def mixed_run(warehouse, paths, tmp_path_factory):
    """Landing holding the real IDM sample beside two files a generator claims."""
    landing = tmp_path_factory.mktemp("origin_landing")
    folder = landing / "idm" / f"tahun={YEAR}"
    folder.mkdir(parents=True)
    shutil.copy(REPO / "data" / "landing" / "idm" / f"tahun={YEAR}" / f"{REAL}.json", folder)
    for code in (GENERATED, EDITED):
        (folder / f"{code}.json").write_text(_response_for(), encoding="utf-8")
    _write_manifest(landing, {
        f"idm/tahun={YEAR}/{GENERATED}.json": _sha(folder / f"{GENERATED}.json"),
        f"idm/tahun={YEAR}/{EDITED}.json": "0" * 64,  # not the content landed
    })
    from lumbung.pipelines import idm

    with psycopg.connect(warehouse.url()) as conn:
        if conn.execute("select to_regclass('marts.dim_village')").fetchone()[0] is None:
            assert str(run_dag("village_master").state) == "success"
    landed = idm.land(warehouse, landing)
    assert not landed["problems"], landed["problems"]
    gated = idm.gate(warehouse, landed)
    assert not gated.get("problems") and not gated.get("failures"), gated
    return build_and_publish(paths, warehouse, "+mart_idm", "+mart_idm_inconsistencies")


def test_batches_record_their_origin(mixed_run, db):
    origins = dict(db.execute(
        "select split_part(partition_key, '/', 2), data_origin from audit.load_batches "
        "where source = 'idm' and split_part(partition_key, '/', 2) = any(%s) "
        "and partition_key like %s",
        ([GENERATED, EDITED], f"{YEAR}/%")).fetchall())
    assert origins == {GENERATED: "generated", EDITED: "real"}


def test_mart_rows_carry_the_origin_of_their_file(mixed_run, db):
    rows = dict(db.execute(
        "select village_code, data_origin from marts.mart_idm where year = %s "
        "and village_code = any(%s)", (YEAR, [REAL, GENERATED, EDITED])).fetchall())
    assert rows == {REAL: "real", GENERATED: "generated", EDITED: "real"}
    # the figures are the same: only the label differs
    same = db.execute(
        "select count(distinct (iks_published, ike_published, ikl_published, idm_published)) "
        "from marts.mart_idm where year = %s and village_code = any(%s)",
        (YEAR, [REAL, GENERATED, EDITED])).fetchone()[0]
    assert same == 1
    assert db.execute("select count(*) from marts.mart_idm where data_origin is null "
                      "or data_origin not in ('real', 'generated', 'mixed')").fetchone()[0] == 0
    # a BI user filtering to real data sees the real desa, not the generated one
    real_only = {r[0] for r in db.execute(
        "select village_code from marts.mart_idm where data_origin = 'real' and year = %s",
        (YEAR,))}
    assert REAL in real_only and GENERATED not in real_only


def test_run_summary_says_how_much_of_each_mart_is_real(mixed_run, warehouse):
    from lumbung.runner import origin_counts, render_origins

    with psycopg.connect(warehouse.url()) as conn:
        counts = origin_counts(conn, ["mart_idm", "dim_region"])
    assert set(counts) == {"marts.mart_idm"}  # dim_region has no data_origin column yet
    assert counts["marts.mart_idm"]["generated"] >= 1 and counts["marts.mart_idm"]["real"] >= 1
    lines = render_origins(counts)
    assert lines[0].startswith("Data origin") and "marts.mart_idm" in lines[1]
