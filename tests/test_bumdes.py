"""BUMDes end to end: generated registry pages (JSON) and yearly reports (CSV/XLSX), injected
defects caught at landing, the real DAG with its gate and dbt staging."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import land_generated, quarantined_rows, run_source_dag

from lumbung.generate import GenerateConfig, generate
from lumbung.pipelines import bumdes as pipeline
from lumbung.sources.tabular import parse_id_number


@pytest.fixture(scope="module")
def defective(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bumdes_defects")
    # Seed 20 on the three smallest regencies injects every registry and report defect kind.
    generate(GenerateConfig(out=out, regencies=("1811", "1812", "1813"), years=(2021, 2022),
                            seed=20, defects=0.12, disagreements=0,
                            sources=("bumdes",)))
    return out


def test_every_injected_defect_is_caught_and_nothing_else(defective, warehouse, db):
    manifest = json.loads((defective / "defects_manifest.json").read_text())
    assert {d["kind"] for d in manifest} == {
        "unknown_village", "blank_required", "bad_date", "duplicate_row", "truncated_json",
        "non_numeric_amount", "other_year", "wrong_encoding", "header_below_data",
        "truncated_xlsx"}

    outcomes = {o.file_path: o for o in pipeline.ingest_path(warehouse, defective / "bumdes")}
    assert set(outcomes) == {p.relative_to(defective).as_posix()
                             for p in (defective / "bumdes").rglob("*.*")}
    rejected = {f for f, o in outcomes.items() if o.status == "rejected"}
    assert rejected == {d["file"] for d in manifest if d["expect"] == "reject"}

    quarantined: set[tuple[str, int]] = set()
    reasons: dict[tuple[str, int], str] = {}
    for file, number, reason in quarantined_rows(db, outcomes):
        quarantined.add((file, number))
        reasons[(file, number)] = reason
    assert quarantined == {(d["file"], d["row"]) for d in manifest if d["expect"] == "quarantine"}
    expected_words = {"unknown_village": "unknown village code", "blank_required": "blank",
                      "bad_date": "not a date", "duplicate_row": "duplicate",
                      "non_numeric_amount": "not a number", "other_year": "report year",
                      "wrong_encoding": "not valid UTF-8"}
    for d in manifest:
        if d["expect"] == "quarantine":
            assert expected_words[d["kind"]] in reasons[(d["file"], d["row"])], d


@pytest.fixture(scope="module")
def bumdes_run(paths, warehouse, landing):
    land_generated(landing, "bumdes", ("1811", "1813"), (2023, 2024))
    return run_source_dag("bumdes", paths, warehouse)


def _registry_items(landing: Path) -> list[dict]:
    items = []
    for page in sorted((landing / "bumdes" / "registry").rglob("*.json")):
        items += json.loads(page.read_text())["data"]
    return items


def test_dag_publishes_registry_units_and_reports(bumdes_run, db, landing):
    states = {ti.task_id: str(ti.state) for ti in bumdes_run.get_task_instances()}
    assert str(bumdes_run.state) == "success", states
    items = _registry_items(landing)
    # Other modules land registries into the same warehouse: read this run's batches.
    ours = [b for (b,) in db.execute(
        "select batch_id from audit.load_batches where dag_id = 'bumdes' and run_id = %s "
        "and dataset = 'registry'", (bumdes_run.run_id,))]
    assert ours
    registry = db.execute(
        "select count(*), count(*) filter (where is_legal_entity), sum(business_unit_count), "
        "max(registry_total) from staging.stg_bumdes__registry where batch_id = any(%s)",
        (ours,)).fetchone()
    units = sum(len(i["unit_usaha"]) for i in items)
    legal = sum(i["status_badan_hukum"] == "Berbadan Hukum" for i in items)
    assert registry == (len(items), legal, units, len(items))
    assert db.execute(
        "select count(*) from staging.stg_bumdes__units as u join staging.stg_bumdes__registry "
        "as r using (bumdes_id) where r.batch_id = any(%s)", (ours,)).fetchone()[0] == units
    # BUMDes in 60-80 % of desa; legal entities a minority.
    desa = db.execute(
        "select count(distinct village_code) from staging.stg_bumdes__registry "
        "where batch_id = any(%s)", (ours,)).fetchone()[0]
    assert desa == len(items) and 0 < legal < len(items) / 2


def test_report_amounts_are_read_from_indonesian_formats(bumdes_run, db, landing):
    """Every amount in staging equals the file's text read independently."""
    from openpyxl import load_workbook

    checked = 0
    for path in sorted((landing / "bumdes" / "laporan").rglob("*.*")):
        if path.suffix == ".csv":
            lines = path.read_text(encoding="utf-8").splitlines()
            delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
            rows = list(csv.reader(lines, delimiter=delimiter))
            header, body = rows[0], rows[1:]
        else:
            values = [r for r in load_workbook(path, read_only=True).worksheets[0]
                      .iter_rows(values_only=True) if any(v is not None for v in r)]
            start = next(i for i, r in enumerate(values) if r[0] == "No")
            header, body = list(values[start]), [list(r) for r in values[start + 1:]]
        for row in body[:5]:
            record = dict(zip(header, row, strict=False))
            got = db.execute(
                "select turnover, profit, village_capital_participation "
                "from staging.stg_bumdes__annual_reports "
                "where bumdes_id = %s and report_year = %s",
                (str(record["ID BUMDes"]), int(record["Tahun Laporan"])),
            ).fetchone()
            want = tuple(
                Decimal(v) if isinstance(v, int) else parse_id_number(v)
                for v in (record["Omzet (Rp)"], record["Laba (Rp)"],
                          record["Penyertaan Modal Desa (Rp)"])
            )
            assert got == want, (path.name, record)
            checked += 1
    assert checked >= 10


def test_landing_again_lands_nothing_new(bumdes_run, warehouse, landing):
    landed = pipeline.land(warehouse, landing)
    assert landed["batches"] and all(b["already_landed"] for b in landed["batches"])
