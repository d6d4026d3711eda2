"""``lumbung generate --scale``: the synthetic villages get their own region master delivery.

It lands beside the real edition, passes the region gate, puts the synthetic villages in
``marts.dim_village`` as current and flagged, leaves every real row as it was, and lets
another source's file for those villages (APBDes, whose gate checks Kd_Desa against
``dim_village``) pass. Everything this module lands is removed again at its end, so the
other tests see the real region master only.
"""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg
import pytest
from conftest import REPO, table_fingerprint

from lumbung.generate import GenerateConfig, generate
from lumbung.pipelines import apbdes, village_master
from lumbung.quality import batch_state, gate, messages, suites
from lumbung.sources import kemendagri

REGENCY = "1811"  # Mesuji: small, and it sends the flat APBDes template (quick to make)
EDITION = "2025"
MARTS = ("marts.dim_region", "marts.dim_village")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def _batch_columns(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(table, column) of every foreign key to audit.load_batches: the rows of a batch."""
    return conn.execute(
        """
        select c.conrelid::regclass::text, a.attname
        from pg_constraint as c
        inner join pg_attribute as a
            on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
        where c.contype = 'f' and c.confrelid = 'audit.load_batches'::regclass
        """
    ).fetchall()


@pytest.fixture(scope="module")
def scaled(warehouse, paths, landing, tmp_path_factory):
    """The real master built, then a --scale 2 delivery generated, landed, gated and built;
    afterwards every batch of this module is deleted, and the synthetic rows of the marts."""
    real = village_master.land(warehouse, landing)
    village_master.gate(warehouse, real)
    with psycopg.connect(warehouse.url(), autocommit=True) as conn:
        built = conn.execute("select to_regclass('marts.dim_village')").fetchone()[0]
    if built is None or any(not b["already_landed"] for b in real["batches"]):
        village_master.refresh_marts(paths, warehouse)  # else another test built it already
    with psycopg.connect(warehouse.url(), autocommit=True) as conn:
        before = {t: table_fingerprint(conn, t) for t in MARTS}
        first_new = conn.execute(
            "select coalesce(max(batch_id), 0) + 1 from audit.load_batches"
        ).fetchone()[0]
    out = tmp_path_factory.mktemp("scaled")
    generate(GenerateConfig(out=out, regencies=(REGENCY,), years=(2024,), scale=2,
                            sources=("region", "apbdes")))
    try:
        # An APBDes file naming synthetic desa, before the region master knows them.
        (budget,) = apbdes.ingest_path(warehouse, next((out / "apbdes").rglob("*.csv")))
        unknown = gate.validate_batch(warehouse.url(), budget.batch_id)
        landed = village_master.land(warehouse, out)
        village_master.gate(warehouse, landed)
        village_master.refresh_marts(paths, warehouse)
        known = gate.validate_batch(warehouse.url(), budget.batch_id)
        yield {"out": out, "before": before, "landed": landed, "unknown": unknown,
               "known": known}
    finally:
        with psycopg.connect(warehouse.url(), autocommit=True) as conn:
            for table, column in [*_batch_columns(conn), ("audit.load_batches", "batch_id")]:
                conn.execute(f"delete from {table} where {column} >= %s", (first_new,))
            # What a rebuild would give, without its minute: the real rows are unchanged
            # by the supplement (test_synthetic_villages_are_current_and_flagged...).
            for table in MARTS:
                conn.execute(f"delete from {table} where is_synthetic")
                conn.execute(f"delete from {table.replace('marts.', 'marts_build.')} "
                             "where is_synthetic")


def test_generate_writes_the_supplement_outside_the_vendored_master(scaled):
    folder = scaled["out"] / "region" / f"edition={EDITION}"
    districts = _rows(folder / "synthetic_districts.csv")
    villages = _rows(folder / "synthetic_villages.csv")
    real = [r for r in _rows(REPO / "data" / "landing" / "region" / f"edition={EDITION}"
                             / "lampung_villages.csv") if r["code_10"].startswith(REGENCY)]
    assert [d["code_10"] for d in districts] == [f"{REGENCY}41"]
    assert len(villages) == len(real)  # one copy of each of the regency's villages
    assert {v["parent_code"] for v in villages} == {"18.11.41"}
    assert not {v["code_10"] for v in villages} & {r["code_10"] for r in real}
    vendored = REPO / "data" / "landing" / "region"
    assert not list(vendored.rglob("*synthetic*"))


def test_generate_refuses_to_write_into_the_vendored_master(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="vendored"):
        generate(GenerateConfig(out=REPO / "data" / "landing", regencies=(REGENCY,),
                                scale=2, sources=("region",)))
    assert not list((REPO / "data" / "landing" / "region").rglob("*synthetic*"))


def test_supplement_lands_as_its_own_datasets_and_passes_the_gate(scaled, db):
    batches = {b["dataset"]: b for b in scaled["landed"]["batches"] if not b["already_landed"]}
    assert set(batches) == {"synthetic_districts", "synthetic_villages"}
    files = scaled["out"] / "region" / f"edition={EDITION}"
    for dataset, batch in batches.items():
        status, loaded, received = db.execute(
            "select status, rows_loaded, rows_received from audit.load_batches "
            "where batch_id = %s", (batch["batch_id"],)
        ).fetchone()
        assert status == "validated", dataset
        assert loaded == received == len(_rows(files / f"{dataset}.csv"))


def test_synthetic_villages_are_current_and_flagged_in_dim_village(scaled, db):
    generated = {r["code_10"]: r["name"] for r in _rows(
        scaled["out"] / "region" / f"edition={EDITION}" / "synthetic_villages.csv")}
    rows = db.execute(
        "select village_code, village_name, is_current, valid_to, edition, district_name "
        "from marts.dim_village where is_synthetic"
    ).fetchall()
    assert {r[0]: r[1] for r in rows} == generated
    assert all(current and valid_to is None and edition == EDITION
               for _, _, current, valid_to, edition, _ in rows)
    assert {r[5] for r in rows} == {"Sintetis 41"}
    district = db.execute(
        "select region_level, parent_code, is_synthetic from marts.dim_region "
        "where region_code = %s", (f"{REGENCY}41",)
    ).fetchone()
    assert district == ("district", REGENCY, True)
    # every real village and region is as it was before the supplement, row for row
    assert db.execute("select count(*) from marts.dim_village where not is_synthetic "
                      "and village_code like %s", (f"{REGENCY}41%",)).fetchone()[0] == 0
    for table in MARTS:
        real = f"(select * from {table} where not is_synthetic)"
        assert table_fingerprint(db, real) == scaled["before"][table], table


def test_real_deliveries_are_still_compared_with_real_ones(scaled, db):
    """The 90-110 % row-count rule of a next real delivery refers to the last real one,
    not to the (later, smaller) synthetic supplement; a supplement has no reference."""
    real_rows = db.execute(
        "select rows_loaded from audit.load_batches where source = %s and dataset = 'villages' "
        "and status = 'validated' order by batch_id desc limit 1", (kemendagri.SOURCE,)
    ).fetchone()[0]
    synthetic = len(_rows(scaled["out"] / "region" / f"edition={EDITION}"
                          / "synthetic_villages.csv"))
    assert synthetic < real_rows * 9 // 10  # would trip the rule if it were the reference
    for dataset, expected in (("villages", real_rows), ("synthetic_villages", None)):
        upcoming = batch_state.Batch(
            10**9, kemendagri.SOURCE, dataset, "2028", "next.csv", "loaded")
        assert batch_state.reference_rows(db, upcoming) == expected, dataset


def test_apbdes_of_a_synthetic_desa_passes_its_gate_once_the_region_knows_it(scaled):
    unknown, known = scaled["unknown"], scaled["known"]
    assert not unknown.passed
    assert any(f.rule == "Kd_Desa is a desa of the regency" and "41.2" in f.detail
               for f in unknown.failures), unknown.message()
    assert known.passed, known.message()
    assert "regency 1811, year 2024" in known.message()


def test_synthetic_files_are_told_apart_and_land_after_the_real_ones(tmp_path):
    edition = tmp_path / "region" / f"edition={EDITION}"
    edition.mkdir(parents=True)
    for name in ("synthetic_villages.csv", "synthetic_districts.csv", "lampung_villages.csv",
                 "lampung_districts.csv", "lampung_regencies.csv"):
        (edition / name).write_text("code\n")
    files, problems = kemendagri.discover(tmp_path)
    assert problems == []
    assert [f.spec.dataset for f in files] == [
        "regencies", "districts", "villages", "synthetic_districts", "synthetic_villages"]
    assert {f.spec.table for f in files if kemendagri.is_synthetic(f.spec.dataset)} == {
        "kemendagri_districts", "kemendagri_villages"}
    (edition / "synthetic_regencies.csv").write_text("code\n")
    _, problems = kemendagri.discover(tmp_path)
    assert len(problems) == 1 and "synthetic_regencies.csv" in problems[0]


def test_the_supplement_is_held_to_the_rules_of_the_dataset_it_extends():
    for dataset in ("districts", "villages"):
        real = suites.suite_for(kemendagri.SOURCE, dataset)
        assert suites.suite_for(kemendagri.SOURCE, f"synthetic_{dataset}") is real
        batch = batch_state.Batch(
            1, kemendagri.SOURCE, f"synthetic_{dataset}", EDITION, "f", "loaded")
        assert messages.batch_label(real, batch) == (
            f"kemendagri {dataset} (synthetic_{dataset}), edition {EDITION}")
