"""The Smart Village survey end to end: generated exports (CSV and XLSX), injected defects
caught at landing, the real DAG with its gate and dbt staging (latest submission wins)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import land_generated, run_source_dag

from lumbung.generate import GenerateConfig, generate
from lumbung.pipelines import survey as pipeline
from lumbung.pipelines.batches import Gated

# Lampung Selatan and Pesisir Barat: big and small, desa called desa and pekon.
REGENCIES = ("1801", "1813")


def _manifest(out: Path) -> list[dict]:
    return json.loads((out / "defects_manifest.json").read_text())


@pytest.fixture(scope="module")
def defective(tmp_path_factory) -> Path:
    """Exports of two years with defects injected (years no other test lands)."""
    out = tmp_path_factory.mktemp("survey_defects")
    # Seed 19 on the three smallest regencies injects every kind, rejects included.
    generate(GenerateConfig(out=out, regencies=("1811", "1812", "1813"), years=(2021, 2022),
                            seed=19, defects=0.15, sources=("survey",)))
    return out


def test_every_injected_defect_is_caught_and_nothing_else(defective, warehouse, db):
    manifest = _manifest(defective)
    kinds = {d["kind"] for d in manifest}
    assert kinds == {"unknown_village", "blank_required", "other_year", "duplicate_row",
                     "wrong_encoding", "truncated_xlsx", "header_below_data"}

    outcomes = pipeline.ingest_path(warehouse, defective / "survey")
    # Paths are shown relative to the landing folder, as the manifest names them.
    by_file = {o.file_path: o for o in outcomes}
    assert set(by_file) == {p.relative_to(defective).as_posix()
                            for p in (defective / "survey").rglob("*.*")}

    rejected = {f for f, o in by_file.items() if o.status == "rejected"}
    assert rejected == {d["file"] for d in manifest if d["expect"] == "reject"}
    expected = {(d["file"], d["row"]) for d in manifest if d["expect"] == "quarantine"}
    quarantined = set()
    for file, outcome in by_file.items():
        if outcome.status == "rejected":
            continue
        assert outcome.rows_received == outcome.rows_loaded + outcome.rows_quarantined
        rows = db.execute("select row_number, reason from audit.quarantine where batch_id = %s",
                          (outcome.batch_id,)).fetchall()
        quarantined |= {(file, n) for n, _ in rows}
        reasons = " | ".join(r for _, r in rows)
        for d in manifest:
            if d["file"] == file and d["kind"] == "wrong_encoding":
                assert "not valid UTF-8" in reasons
    assert quarantined == expected

    # The quarantined rows are gone from raw; the rest passes the gate.
    kept = next(o for o in by_file.values() if o.status == "loaded" and o.rows_quarantined)
    result = pipeline.gate(warehouse, {"batches": [kept.to_dict()], "problems": []})
    assert result["batches_checked"] == 1
    assert result.keys() == Gated().to_dict().keys()  # the shape of every source's gate


@pytest.fixture(scope="module")
def survey_run(paths, warehouse, landing):
    """Clean exports of 2024 (both formats) in the landing folder, then the real DAG."""
    land_generated(landing, "survey", REGENCIES, (2024,))
    return run_source_dag("survey", paths, warehouse)


def _submissions(landing: Path) -> list[dict[str, str]]:
    """Every submission of the landed 2024 exports, read independently of the pipeline."""
    from openpyxl import load_workbook

    rows = []
    for path in sorted((landing / "survey" / "tahun=2024").iterdir()):
        if path.suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as fh:
                first = fh.readline()
                fh.seek(0)
                if fh.read(1) != "\ufeff":
                    fh.seek(0)
                delimiter = ";" if first.count(";") > first.count(",") else ","
                rows += list(csv.DictReader(fh, delimiter=delimiter))
        else:
            sheet = load_workbook(path, read_only=True).worksheets[0]
            values = [r for r in sheet.iter_rows(values_only=True) if any(r)]
            start = next(i for i, r in enumerate(values) if r[0] == "Timestamp")
            header = values[start]
            rows += [dict(zip(header, r, strict=False)) for r in values[start + 1:]]
    return rows


def test_dag_publishes_one_row_per_village_and_year(survey_run, db, landing):
    states = {ti.task_id: str(ti.state) for ti in survey_run.get_task_instances()}
    assert str(survey_run.state) == "success", states
    submissions = _submissions(landing)
    villages = {s["Kode Desa"].replace(".", "") for s in submissions}
    rows = db.execute(
        "select count(*), count(distinct village_code), sum(submission_count) "
        "from staging.stg_survey__responses where survey_year = 2024"
    ).fetchone()
    assert rows == (len(villages), len(villages), len(submissions))
    batches = db.execute(
        "select status, rows_received, rows_loaded, rows_quarantined from audit.load_batches "
        "where source = 'survey' and partition_key = '2024'"
    ).fetchall()
    assert {b[0] for b in batches} == {"validated"}
    assert sum(b[1] for b in batches) == len(submissions) and all(b[3] == 0 for b in batches)


def test_latest_submission_wins(survey_run, db):
    """Every submission stays in raw; staging keeps the one with the latest timestamp."""
    from lumbung.sources.survey import parse_timestamp

    resubmitted = db.execute(
        "select village_code, submitted_at, batch_id, source_row_number, submission_count "
        "from staging.stg_survey__responses where submission_count > 1 and survey_year = 2024"
    ).fetchall()
    assert resubmitted, "the generator should produce resubmissions"
    for code, submitted_at, batch_id, row, count in resubmitted:
        raw = db.execute(
            "select r._batch_id, r._row_number, r.timestamp from raw.survey_responses as r "
            "join audit.load_batches as b on b.batch_id = r._batch_id "
            "where b.source = 'survey' and b.partition_key = '2024' and b.status = 'validated' "
            "  and regexp_replace(r.kode_desa, '[^0-9]', '', 'g') = %s",
            (code,),
        ).fetchall()
        assert len(raw) == count
        latest = max(raw, key=lambda r: parse_timestamp(r[2]))
        assert (latest[0], latest[1]) == (batch_id, row)
        assert parse_timestamp(latest[2]) == submitted_at


def test_messy_answers_are_read_or_flagged_never_guessed(survey_run, db):
    read = db.execute(
        "select has_website_answer, bool_or(has_website) from staging.stg_survey__responses "
        "where has_website is not null group by 1"
    ).fetchall()
    answers = dict(read)
    assert answers.get("Ya") is True and answers.get("tdk") is False
    flagged = db.execute(
        "select count(*), count(*) filter (where population is null "
        "and population_answer is not null) from staging.stg_survey__responses "
        "where population_uninterpreted"
    ).fetchone()
    assert flagged[0] > 0 and flagged[0] == flagged[1]
    # thousand dots read as thousands, units dropped
    dotted = db.execute(
        "select population_answer, population from staging.stg_survey__responses "
        "where population_answer ~ '^[0-9]{1,3}[.][0-9]{3}$' limit 1"
    ).fetchone()
    assert dotted[1] == int(dotted[0].replace(".", ""))


def test_landing_again_lands_nothing_new(survey_run, warehouse, db, landing):
    count = "select count(*) from audit.load_batches where source = 'survey'"
    before = db.execute(count).fetchone()[0]
    landed = pipeline.land(warehouse, landing)
    assert landed["batches"] and all(b["already_landed"] for b in landed["batches"])
    assert not landed["problems"]
    assert db.execute(count).fetchone()[0] == before
