"""A delivery that fails harms nothing after it (issue 18): a new region edition delivered
with one bad file stops the run at the gate naming the file; once the file is removed the
next run succeeds and the previous edition stays published; once it is corrected the new
edition is published, although the editions seed does not know it. No audit table is
cleaned by hand between the runs.

The runs call the pipeline functions the ``region`` DAG's tasks call (land, gate,
build, audit, publish), on a landing folder of this module: the session's real editions
plus an ``edition=2026`` that no other module lands. Everything of edition 2026 is deleted
at the end and the region marts rebuilt, so later modules see the real master only.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import psycopg
import pytest
from conftest import REPO, table_fingerprint

from lumbung.pipelines import village_master
from lumbung.quality.gate import GateFailed
from lumbung.sources import kemendagri

EDITION = "2026"
PREVIOUS = "2025"
MARTS = ("marts.dim_region", "marts.dim_village")
SEED = REPO / "dbt_project" / "seeds" / "ref_kemendagri_editions.csv"
RENAMED = "1801042001"  # Hajimena: renamed in the corrected 2026 edition
NEW_NAME = "Hajimena Raya"


def _copy_edition(folder: Path, villages) -> None:
    """Edition 2026 as a copy of 2025, its villages file written by ``villages(rows)``."""
    source = REPO / "data" / "landing" / "region" / f"edition={PREVIOUS}"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("lampung_regencies.csv", "lampung_districts.csv"):
        shutil.copy(source / name, folder / name)
    with (source / "lampung_villages.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    with (folder / "lampung_villages.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(villages(rows))


def _duplicate_code(rows: list[list[str]]) -> list[list[str]]:
    return [*rows, rows[11]]


def _renamed(rows: list[list[str]]) -> list[list[str]]:
    name = rows[0].index("name")
    return [[*r[:name], NEW_NAME, *r[name + 1:]] if r[1] == RENAMED else r for r in rows]


def _run(paths, warehouse, landing: Path, build_anyway: bool = False) -> dict:
    """One run of the DAG's tasks: land, gate (GateFailed is returned, as the task fails),
    then build, audit and publish when the gate released something (``build_anyway``:
    also when it did not, to show dbt's tests pass with a held-back edition present)."""
    landed = village_master.land(warehouse, landing)
    try:
        gated = village_master.gate(warehouse, landed)
    except GateFailed as failed:
        return {"landed": landed, "failed": failed}
    published = None
    if (gated["released"] or build_anyway
            or not village_master.region_master_ready(warehouse)):
        published = village_master.refresh_marts(paths, warehouse)
    return {"landed": landed, "gated": gated, "published": published}


def _delete_edition(conn: psycopg.Connection, edition: str) -> None:
    """Every row of the region batches of ``edition``: raw rows, dependants, batches."""
    ids = [r[0] for r in conn.execute(
        "select batch_id from audit.load_batches where source = %s and partition_key = %s",
        (kemendagri.SOURCE, edition)).fetchall()]
    raw = conn.execute(
        "select table_schema || '.' || table_name from information_schema.columns "
        "where table_schema = 'raw' and column_name = '_batch_id'").fetchall()
    dependants = conn.execute(
        """
        select c.conrelid::regclass::text, a.attname
        from pg_constraint as c
        inner join pg_attribute as a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
        where c.contype = 'f' and c.confrelid = 'audit.load_batches'::regclass
        """).fetchall()
    for table, column in [*((t, "_batch_id") for (t,) in raw), *dependants,
                          ("audit.load_batches", "batch_id")]:
        conn.execute(f"delete from {table} where {column} = any(%s)", (ids,))


@pytest.fixture(scope="module")
def runs(warehouse, paths, landing, tmp_path_factory):
    """The real master published; then three runs on a landing folder with edition 2026:
    with a bad villages file, with it removed, with it corrected."""
    real = village_master.land(warehouse, landing)
    village_master.gate(warehouse, real)
    if (not village_master.region_master_ready(warehouse)
            or any(not b["already_landed"] for b in real["batches"])):
        village_master.refresh_marts(paths, warehouse)  # else another module built it
    ours = tmp_path_factory.mktemp("failed_delivery")
    shutil.copytree(landing / kemendagri.FOLDER, ours / kemendagri.FOLDER)
    folder = ours / kemendagri.FOLDER / f"edition={EDITION}"
    with psycopg.connect(warehouse.url(), autocommit=True) as conn:
        assert conn.execute("select count(*) from audit.load_batches where source = %s "
                            "and partition_key = %s", (kemendagri.SOURCE, EDITION)
                            ).fetchone()[0] == 0, "another module landed edition 2026"
        before = {t: table_fingerprint(conn, t) for t in MARTS}
    out: dict = {"before": before}
    try:
        _copy_edition(folder, _duplicate_code)
        out["bad"] = _run(paths, warehouse, ours)
        with psycopg.connect(warehouse.url(), autocommit=True) as conn:
            out["after_bad"] = {t: table_fingerprint(conn, t) for t in MARTS}
        (folder / "lampung_villages.csv").unlink()
        out["removed"] = _run(paths, warehouse, ours, build_anyway=True)
        with psycopg.connect(warehouse.url(), autocommit=True) as conn:
            out["after_removed"] = {t: table_fingerprint(conn, t) for t in MARTS}
            out["visible_after_removed"] = conn.execute(
                "select dataset, status, visible_seq is not null from audit.load_batches "
                "where source = %s and partition_key = %s order by batch_id",
                (kemendagri.SOURCE, EDITION)).fetchall()
        _copy_edition(folder, _renamed)
        out["corrected"] = _run(paths, warehouse, ours)
        with psycopg.connect(warehouse.url(), autocommit=True) as conn:
            out["current"] = conn.execute(
                "select village_name, edition, valid_from::text from marts.dim_village "
                "where village_code = %s and is_current", (RENAMED,)).fetchone()
            out["region_editions"] = conn.execute(
                "select distinct edition from marts.dim_region").fetchall()
            out["decree"] = conn.execute(
                "select decree, valid_from::text from intermediate.int_kemendagri__editions "
                "where edition = %s", (EDITION,)).fetchone()
        yield out
    finally:
        with psycopg.connect(warehouse.url(), autocommit=True) as conn:
            _delete_edition(conn, EDITION)
        village_master.refresh_marts(paths, warehouse)
        with psycopg.connect(warehouse.url(), autocommit=True) as conn:
            restored = {t: table_fingerprint(conn, t) for t in MARTS}
        assert restored == before, "the region marts were not restored"


def test_bad_file_fails_the_run_at_the_gate_naming_it(runs):
    bad = runs["bad"]
    assert "failed" in bad, bad.get("gated")
    message = str(bad["failed"])
    assert f"edition={EDITION}/lampung_villages.csv" in message
    assert "unique" in message
    # only the villages file failed: the regencies and districts files passed
    assert len(bad["failed"].problems) == 1
    assert runs["after_bad"] == runs["before"]


def test_next_run_after_removing_the_file_succeeds_with_the_previous_edition(runs):
    removed = runs["removed"]
    assert "failed" not in removed, removed.get("failed")
    gated = removed["gated"]
    assert gated["released"] is None
    held = gated["held_back"][EDITION]
    assert f"edition={EDITION}/lampung_villages.csv (villages) failed the gate" in held
    assert set(gated["held_back"]) == {EDITION}
    # dbt built and tested with the held-back edition in the warehouse, and published the
    # marts as they were
    assert removed["published"]["publication_id"] is not None
    assert runs["after_removed"] == runs["before"]
    # the accepted files of the incomplete edition stay invisible to dbt
    assert runs["visible_after_removed"] == [
        ("regencies", "validated", False), ("districts", "validated", False),
        ("villages", "failed", False)]


def test_corrected_file_publishes_the_new_edition_without_a_seed_edit(runs):
    corrected = runs["corrected"]
    assert "failed" not in corrected, corrected.get("failed")
    assert corrected["gated"]["released"] is not None
    assert corrected["gated"]["held_back"] == {}
    assert corrected["published"]["publication_id"] is not None
    assert runs["current"] == (NEW_NAME, EDITION, f"{EDITION}-01-01")
    assert runs["region_editions"] == [(EDITION,)]
    assert EDITION not in SEED.read_text()
    decree, valid_from = runs["decree"]
    assert "not recorded" in decree and valid_from == f"{EDITION}-01-01"
