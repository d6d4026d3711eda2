"""OJK financial access end to end: generated XLSX reports (access points in two sheets, KUR
per district), injected defects caught at landing, the real DAG with its gate and dbt."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import land_generated, quarantined_rows, run_source_dag
from openpyxl import load_workbook

from lumbung.generate import GenerateConfig, generate
from lumbung.pipelines import ojk as pipeline
from lumbung.sources import ojk
from lumbung.sources.tabular import parse_id_number

REGENCIES = ("1811", "1813")


@pytest.fixture(scope="module")
def defective(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ojk_defects")
    # Seed 13 injects every kind of defect, both kinds of rejected workbook included.
    generate(GenerateConfig(out=out, regencies=REGENCIES, years=(2022,), seed=13,
                            defects=0.15, sources=("ojk",)))
    return out


def test_every_injected_defect_is_caught_and_nothing_else(defective, warehouse, db):
    manifest = json.loads((defective / "defects_manifest.json").read_text())
    assert {d["kind"] for d in manifest} == {"unknown_code", "non_numeric", "blank_required",
                                             "duplicate_row", "truncated_xlsx",
                                             "header_below_data"}
    outcomes = {o.file_path: o for o in pipeline.ingest_path(warehouse, defective / "ojk")}
    assert len(outcomes) == 8
    rejected = {f for f, o in outcomes.items() if o.status == "rejected"}
    assert rejected == {d["file"] for d in manifest if d["expect"] == "reject"}

    # Two sheets of one workbook share row numbers: the sheet is named in the reason.
    found: set[tuple[str, int, str]] = set()
    for file, number, reason in quarantined_rows(db, outcomes):
        sheet = next(s for s in (ojk.AGENTS_SHEET, ojk.OFFICES_SHEET, ojk.KUR_SHEET)
                     if reason.endswith(f"({s})"))
        found.add((file, number, sheet))
    expected = {(d["file"], d["row"], d["detail"].split("'")[1])
                for d in manifest if d["expect"] == "quarantine"}
    assert found == expected


@pytest.fixture(scope="module")
def ojk_run(paths, warehouse, landing):
    land_generated(landing, "ojk", REGENCIES, (2024,))
    return run_source_dag("ojk", paths, warehouse)


def _sheet(path: Path, name: str) -> list[dict]:
    rows = [r for r in load_workbook(path, read_only=True)[name].iter_rows(values_only=True)
            if any(v is not None for v in r)]
    start = next(i for i, r in enumerate(rows) if r[0] == "No")
    return [dict(zip(rows[start], r, strict=False)) for r in rows[start + 1:]]


def _number(value: object) -> Decimal:
    return Decimal(value) if isinstance(value, int) else parse_id_number(str(value))


def test_dag_publishes_access_points(ojk_run, db, landing):
    states = {ti.task_id: str(ti.state) for ti in ojk_run.get_task_instances()}
    assert str(ojk_run.state) == "success", states
    report = next((landing / "ojk" / "akses").rglob("*2024-12.xlsx"))
    agents, offices = _sheet(report, ojk.AGENTS_SHEET), _sheet(report, ojk.OFFICES_SHEET)
    rows = dict(db.execute(
        "select access_type, sum(point_count) from staging.stg_ojk__access_points "
        "where period_month = '2024-12-01' group by 1"
    ).fetchall())
    assert rows["laku_pandai_agent"] == sum(r["Jumlah Agen"] for r in agents)
    assert rows["atm"] == sum(r["ATM"] for r in offices)
    assert rows["branch_office"] == sum(r["Kantor Cabang"] for r in offices)
    # "one village one agent": most desa, not all, have one
    with_agent = db.execute(
        "select count(distinct village_code) from staging.stg_ojk__access_points "
        "where period_month = '2024-12-01' and access_type = 'laku_pandai_agent'"
    ).fetchone()[0]
    desa = len({r["Kode Desa"] for r in agents})
    assert with_agent == desa
    periods = db.execute(
        "select count(distinct period_month) from staging.stg_ojk__access_points "
        "where extract(year from period_month) = 2024"  # other modules land other years
    ).fetchone()[0]
    assert periods == 4


def test_dag_publishes_kur_per_district_and_quarter(ojk_run, db, landing):
    for quarter in (1, 2, 3, 4):
        report = next((landing / "ojk" / "kur").rglob(f"*2024Q{quarter}.xlsx"))
        rows = _sheet(report, ojk.KUR_SHEET)
        got = db.execute(
            "select count(*), sum(debtor_count), sum(disbursed_amount) "
            "from staging.stg_ojk__kur_district_quarter where kur_year = 2024 "
            "and kur_quarter = %s", (quarter,),
        ).fetchone()
        assert got == (
            len({r["Kode Kecamatan"] for r in rows}),
            sum(r["Jumlah Debitur"] for r in rows),
            sum(_number(r["Nilai Penyaluran (Rp)"]) for r in rows),
        )


def test_landing_again_lands_nothing_new(ojk_run, warehouse, landing):
    landed = pipeline.land(warehouse, landing)
    assert len(landed["batches"]) == 8
    assert all(b["already_landed"] for b in landed["batches"])
