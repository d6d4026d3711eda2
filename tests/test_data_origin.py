"""Origin on every figure: a landed file is ``generated`` exactly when a generator manifest
in one of its folders lists it with the same content, and the marts carry it to every row."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import psycopg
import pytest
from conftest import REPO, build_and_publish, land_and_gate, run_dag

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
            assert str(run_dag("region").state) == "success"
    landed = idm.land(warehouse, landing)
    assert not landed["problems"], landed["problems"]
    gated = idm.gate(warehouse, landed)
    assert not gated.get("problems") and not gated.get("failures"), gated
    # (not mart_idm_inconsistencies: these files agree with their scores, so it would be
    # empty, which its audit refuses)
    return build_and_publish(paths, warehouse, "+mart_idm")


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


# --- a run mixing the real IDM sample with generated sources -----------------------------

MIXED_YEAR = 2021  # no other module lands generated sources of these regencies this year
GENERATED_REGENCY = "1804"  # every source generated; its real IDM files kept
REAL_REGENCY = "1809"  # the real IDM files only
REAL_IN_GENERATED = "1804062001"  # a real IDM desa among generated sources
GENERATED_ONLY = "1804042002"  # no real IDM file: every input generated
REAL_ONLY = "1809022001"  # a real IDM desa with no generated source
MIXED_DISTRICT, GENERATED_DISTRICT = "180406", "180404"  # real IDM desa in one, none in the other
MIXED_MARTS = ("+mart_idm", "+mart_village_finance", "+mart_bumdes", "+mart_bumdes_regency",
               "+mart_financial_access", "+mart_financial_access_regency", "@mart_smart_village")
SOURCES = ("idm", "survey", "apbdes", "bumdes", "ojk")


@pytest.fixture(scope="module")
def mixed_sources(warehouse, paths, tmp_path_factory):
    """The real IDM files of two regencies for one year; every source generated for the first
    (the generator leaves the real IDM files as they are and writes the other desa's)."""
    from lumbung.generate import GenerateConfig, generate

    out = tmp_path_factory.mktemp("origin_sources")
    folder = out / "idm" / f"tahun={MIXED_YEAR}"
    folder.mkdir(parents=True)
    real = REPO / "data" / "landing" / "idm" / f"tahun={MIXED_YEAR}"
    for regency in (GENERATED_REGENCY, REAL_REGENCY):
        for path in real.glob(f"{regency}*.json"):
            # the vendored files only: `make run` writes generated ones beside them
            content_hash = hashlib.sha256(path.read_bytes()).hexdigest()
            if data_origin(path, content_hash) == "real":
                shutil.copy(path, folder)
    generate(GenerateConfig(out=out, regencies=(GENERATED_REGENCY,), years=(MIXED_YEAR,),
                            seed=11, sources=SOURCES))
    with psycopg.connect(warehouse.url()) as conn:
        if conn.execute("select to_regclass('marts.dim_village')").fetchone()[0] is None:
            assert str(run_dag("region").state) == "success"
    for source in SOURCES:
        land_and_gate(warehouse, source, out)
    return build_and_publish(paths, warehouse, *MIXED_MARTS)


def _origins(db, mart: str, key: str, codes: list[str]) -> dict[str, str]:
    return dict(db.execute(
        f"select {key}, data_origin from marts.{mart} where year = %s and {key} = any(%s)",
        (MIXED_YEAR, codes)).fetchall())


def test_every_published_figure_mart_carries_its_origin(mixed_sources, db):
    marts = {r[0] for r in db.execute(
        "select table_name from information_schema.columns "
        "where table_schema = 'marts' and column_name = 'data_origin'")}
    # (mart_idm_inconsistencies too, published by the modules that land disagreeing files)
    assert {"mart_idm", "mart_village_finance", "mart_bumdes",
            "mart_bumdes_regency", "mart_financial_access", "mart_financial_access_regency",
            "mart_smart_village", "mart_smart_village_district", "mart_smart_village_regency",
            "mart_smart_village_province"} <= marts
    for mart in marts:
        bad = db.execute(f"select count(*) from marts.{mart} where data_origin is null "
                         "or data_origin not in ('real', 'generated', 'mixed')").fetchone()[0]
        assert bad == 0, mart


def test_village_rows_are_labelled_by_their_inputs(mixed_sources, db):
    villages = [REAL_IN_GENERATED, GENERATED_ONLY, REAL_ONLY]
    # the IDM mart: each desa's own file
    assert _origins(db, "mart_idm", "village_code", villages) == {
        REAL_IN_GENERATED: "real", GENERATED_ONLY: "generated", REAL_ONLY: "real"}
    # the APBDes of the generated regency is generated, also for its real IDM desa
    assert _origins(db, "mart_village_finance", "village_code", villages) == {
        REAL_IN_GENERATED: "generated", GENERATED_ONLY: "generated"}
    # an OJK report covers the province: every village's year stands on it
    assert _origins(db, "mart_financial_access", "village_code", villages) == dict.fromkeys(
        villages, "generated")
    # the index: real IDM with generated survey, APBDes and OJK is mixed
    assert _origins(db, "mart_smart_village", "village_code", villages) == {
        REAL_IN_GENERATED: "mixed", GENERATED_ONLY: "generated", REAL_ONLY: "real"}
    bumdes = db.execute(
        "select data_origin, count(*) from marts.mart_bumdes where year = %s "
        "and regency_code = %s group by 1", (MIXED_YEAR, GENERATED_REGENCY)).fetchall()
    assert dict(bumdes).keys() == {"generated"}, bumdes
    # a BI user filtering to real data keeps the real desa only
    real_only = {r[0] for r in db.execute(
        "select village_code from marts.mart_smart_village where data_origin = 'real' "
        "and year = %s and village_code = any(%s)", (MIXED_YEAR, villages))}
    assert real_only == {REAL_ONLY}


def test_rollups_are_mixed_where_both_kinds_meet(mixed_sources, db):
    assert _origins(db, "mart_smart_village_district", "district_code",
                    [MIXED_DISTRICT, GENERATED_DISTRICT]) == {
        MIXED_DISTRICT: "mixed", GENERATED_DISTRICT: "generated"}
    assert _origins(db, "mart_smart_village_regency", "regency_code",
                    [GENERATED_REGENCY]) == {GENERATED_REGENCY: "mixed"}
    assert _origins(db, "mart_smart_village_province", "province_code", ["18"]) == {
        "18": "mixed"}
    assert _origins(db, "mart_financial_access_regency", "regency_code",
                    [GENERATED_REGENCY]) == {GENERATED_REGENCY: "generated"}
    assert _origins(db, "mart_bumdes_regency", "regency_code",
                    [GENERATED_REGENCY]) == {GENERATED_REGENCY: "generated"}


def test_run_summary_counts_every_mart_by_origin(mixed_sources, warehouse):
    from lumbung.runner import origin_counts, render_origins

    marts = ["mart_smart_village", "mart_smart_village_regency", "mart_bumdes",
             "mart_financial_access", "mart_indicator_catalogue"]
    with psycopg.connect(warehouse.url()) as conn:
        counts = origin_counts(conn, marts)
    # the catalogue holds no data, hence no origin
    assert set(counts) == {f"marts.{m}" for m in marts[:-1]}
    assert {"real", "generated", "mixed"} <= counts["marts.mart_smart_village"].keys()
    lines = render_origins(counts)
    assert len(lines) == 1 + len(counts) and "marts.mart_bumdes" in "\n".join(lines)
