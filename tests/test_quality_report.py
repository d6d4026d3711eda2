"""The auditor outputs: the offline quality report and the regency workbooks list exactly the
problems the generator injected (its defect manifest), under the right source and regency.

The regency each injected problem belongs to is worked out here from the generated files
themselves (file names, the JSON item, the spreadsheet row), not with the report's code.
"""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import openpyxl
import psycopg
import pytest
from conftest import run_dag

from lumbung.generate import GenerateConfig, generate
from lumbung.pipelines import apbdes, bumdes, idm, ojk, programmes, survey, village_master
from lumbung.quality.gate import validate_batch

REPO = Path(__file__).resolve().parents[1]
REGENCIES = ("1811", "1812")
YEAR = 2025  # a year no other test lands, so these files are new batches
SEED = 10  # with rate 0.05: rows quarantined in both regencies and the province, files
# rejected at landing (APBDes, IDM, OJK) and an APBDes desa the gate stops
PROVINCE = "18"
LAMPUNG = {f"18{n:02d}" for n in range(1, 14)} | {"1871", "1872"}
CODE = re.compile(r"^18\.?(\d{2})\.?\d{2}(\.?[12]\d{3})?$")
GATE_RULE = "Kd_Desa is a desa of the regency"


def _regency_names() -> dict[str, str]:
    latest = sorted((REPO / "data" / "landing" / "region").glob("edition=*"))[-1]
    with (latest / "lampung_regencies.csv").open(encoding="utf-8") as fh:
        return {r["code_10"]: r["name"] for r in csv.DictReader(fh)}


def _code_regency(value: object) -> str:
    found = CODE.match(str(value or "").strip())
    regency = f"18{found.group(1)}" if found else None
    return regency if regency in LAMPUNG else PROVINCE


def _expected_regency(out: Path, defect: dict) -> str:
    """Whose problem a defect is: the regency named by its file, else by its row's code."""
    path = out / defect["file"]
    if defect["source"] == "idm":
        return path.stem[:4]
    named = re.findall(r"_(18\d\d)[_.]", path.name)
    if named:
        return named[0]
    if defect["expect"] == "reject":
        return PROVINCE  # a province-wide file
    if path.suffix == ".json":  # a BUMDes registry page: the item's kode_desa
        return _code_regency(json.loads(path.read_text())["data"][defect["row"] - 1]
                             ["kode_desa"])
    if path.suffix == ".csv":  # a programme export: the row's location when it is a code
        line = path.read_text(encoding="utf-8-sig").splitlines()[defect["row"] - 1]
        codes = [c for c in re.split(r"[;,]", line) if CODE.match(c.strip())]
        return _code_regency(codes[0]) if codes else PROVINCE
    sheet = defect["detail"].split("'")[1]  # an OJK workbook: the row's village/district
    row = _sheet_rows(path)[sheet][defect["row"] - 1]
    codes = [c for c in row if CODE.match(str(c or "").strip())]
    return _code_regency(codes[0]) if codes else PROVINCE


def _effective(defects: list[dict]) -> list[dict]:
    """The defects the pipeline can see: a file rejected at landing as a whole has no rows
    quarantined, and an APBDes desa unknown to the region master (``expect: reject``, stopped
    by the gate) only counts when its file was landed."""
    whole = {d["file"] for d in defects
             if d["expect"] == "reject" and d["kind"] != "unknown_village"}
    return [d for d in defects if d["file"] not in whole or
            (d["expect"] == "reject" and d["kind"] != "unknown_village")]


@cache
def _sheet_rows(path: Path) -> dict[str, list[tuple]]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return {ws.title: list(ws.iter_rows(values_only=True)) for ws in workbook.worksheets}
    finally:
        workbook.close()


@pytest.fixture(scope="module")
def landed(warehouse, landing, tmp_path_factory) -> dict:
    """Every source's files for two regencies with defects, landed as the DAGs land them;
    the APBDes file whose desa the gate would stop gets the gate's recorded verdict."""
    with psycopg.connect(warehouse.url(), autocommit=True) as conn:
        since = conn.execute("select now()").fetchone()[0]
        if conn.execute("select to_regclass('marts.dim_village') is null").fetchone()[0]:
            assert str(run_dag("region").state) == "success"  # the APBDes gate reads it
    village_master.land(warehouse, landing)  # regency names (already landed: no-op)
    out = tmp_path_factory.mktemp("report_defects")
    manifest = generate(GenerateConfig(out=out, regencies=REGENCIES, years=(YEAR,), seed=SEED,
                                       defects=0.05, disagreements=0))
    defects = _effective([d.__dict__ for d in manifest.defects])
    batches = {}
    for pipeline in (survey, idm, apbdes, bumdes, ojk, programmes):
        batches.update({b["file_path"]: b for b in pipeline.land(warehouse, out)["batches"]})
    gate_stopped = {d["file"]: d for d in defects
                    if d["expect"] == "reject" and d["kind"] == "unknown_village"}
    for file in gate_stopped:
        assert batches[file]["status"] == "loaded", file
        verdict = validate_batch(warehouse.url(), batches[file]["batch_id"])  # the real gate
        assert not verdict.passed, verdict.message()
    return {"out": out, "defects": defects, "batches": batches, "since": since,
            "gate_stopped": set(gate_stopped)}


@pytest.fixture(scope="module")
def report(landed, paths, warehouse):
    from lumbung.reports import produce

    return produce(paths, warehouse, since=landed["since"])


def _html(report) -> ET.Element:
    text = report.report.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    # well-formed XML: every tag closed, every text escaped (our own file: no XML attack)
    return ET.fromstring(text.split("\n", 1)[1])  # noqa: S314


def _table(root: ET.Element, table_id: str) -> list[list[str]]:
    table = next(t for t in root.iter("table") if t.get("id") == table_id)
    return [["".join(c.itertext()) for c in tr] for tr in table.iter("tr")][1:]


def _int(text: str) -> int:
    return int(text.replace(",", "") or 0)


def test_report_and_workbooks_are_written_where_the_summary_says(report, paths):
    assert report.folder.parent == paths.reports and report.report.is_file()
    latest = paths.reports / "latest"
    assert report.latest == latest
    assert (latest / "quality_report.html").read_bytes() == report.report.read_bytes()
    assert sorted(p.name for p in (latest / "workbooks").iterdir()) == \
        sorted(report.workbook_files.values())
    assert str(report.report) in report.describe() and str(report.workbooks) in \
        report.describe()


def test_report_opens_without_network(report):
    root = _html(report)
    assert not list(root.iter("script")) and not list(root.iter("link"))
    assert not list(root.iter("img")) and not list(root.iter("iframe"))
    style = "".join("".join(s.itertext()) for s in root.iter("style"))
    assert "url(" not in style and "@import" not in style
    assert len(list(root.iter("svg"))) >= 3  # the charts are drawn inline
    for element in root.iter():
        assert "src" not in element.attrib, element.tag
        href = element.get("href")
        if href is None or href.startswith("#"):
            continue
        assert not re.match(r"^([a-z]+:)?//", href), href  # nothing to fetch
        assert (report.folder / unquote(href)).exists(), href  # relative links resolve offline


def test_report_lists_every_problem_file_with_its_counts(landed, report):
    expected_quarantined = Counter(d["file"] for d in landed["defects"]
                                   if d["expect"] == "quarantine")
    rejected = {d["file"] for d in landed["defects"] if d["expect"] == "reject"}
    files = {row[0]: row for row in _table(_html(report), "problem_files")}
    assert set(files) == set(expected_quarantined) | rejected
    for file, row in files.items():
        status, quarantined = row[4], _int(row[7])
        assert quarantined == expected_quarantined.get(file, 0), file
        if file in landed["gate_stopped"]:
            assert status == "failed", file
        elif file in rejected:
            assert status == "rejected", file
        else:
            assert status == "loaded", file


def _expected_by_regency(landed) -> Counter:
    """(regency, source, what) -> count, from the manifest and the generated files."""
    counts: Counter = Counter()
    refused = set()
    for d in landed["defects"]:
        regency = _expected_regency(landed["out"], d)
        if d["expect"] == "quarantine":
            counts[(regency, d["source"], "rows")] += 1
        elif d["expect"] == "reject":
            what = "failed" if d["file"] in landed["gate_stopped"] else "rejected"
            refused.add((regency, d["source"], what, d["file"]))
    counts.update((regency, source, what) for regency, source, what, _ in refused)
    return counts


def test_report_counts_problems_per_source_and_regency(landed, report):
    expected = _expected_by_regency(landed)
    # The data really spreads over both regencies and the province: the check means something.
    assert {r for r, _, _ in expected} == {*REGENCIES, PROVINCE}
    assert {w for _, _, w in expected} == {"rows", "rejected", "failed"}
    found: Counter = Counter()
    for regency, _name, source, rows, rejected, failed, _link in _table(
            _html(report), "problems_by_regency"):
        for what, n in (("rows", rows), ("rejected", rejected), ("failed", failed)):
            if _int(n):
                found[(regency, source, what)] = _int(n)
    assert found == expected
    # rows received = loaded + quarantined in the accounting table, for every line of it
    for row in _table(_html(report), "accounting"):
        assert _int(row[3]) == _int(row[4]) + _int(row[5]), row


def test_failed_checks_name_rule_severity_and_examples(landed, report):
    rows = _table(_html(report), "failed_checks")
    by_rule = Counter(r[4] for r in rows)
    assert by_rule["file rejected at landing"] == len(
        {d["file"] for d in landed["defects"]
         if d["expect"] == "reject" and d["file"] not in landed["gate_stopped"]})
    gate = [r for r in rows if r[4] == GATE_RULE]
    assert {r[0] for r in gate} == landed["gate_stopped"]
    lines = {d["file"]: d["row"] for d in landed["defects"] if d["kind"] == "unknown_village"}
    for r in gate:
        assert r[5] == "critical" and _int(r[7]) == 1, r
        assert f"{Path(r[0]).name}:{lines[r[0]]}'" in r[8], r  # the example names file and line
    assert "Kd_Rincian format" not in by_rule  # rules that passed are not failures


def test_quarantine_reasons_add_up(landed, report):
    rows = _table(_html(report), "quarantine_reasons")
    assert sum(_int(r[4]) for r in rows) == sum(
        1 for d in landed["defects"] if d["expect"] == "quarantine")


def test_each_workbook_lists_exactly_its_regencys_problems(landed, report):
    names = _regency_names()
    expected_rows: dict[str, Counter] = {}
    expected_files: dict[str, set[str]] = {}
    for d in landed["defects"]:
        regency = _expected_regency(landed["out"], d)
        if d["expect"] == "quarantine":
            expected_rows.setdefault(regency, Counter())[(d["file"], d["row"])] += 1
        elif d["expect"] == "reject":
            expected_files.setdefault(regency, set()).add(d["file"])
    assert set(report.workbook_files) == set(expected_rows) | set(expected_files)
    for regency, name in report.workbook_files.items():
        label = names.get(regency, "Provinsi Lampung")
        assert name == f"{regency} {label}.xlsx"
        workbook = openpyxl.load_workbook(report.workbooks / name, read_only=True)
        try:
            assert workbook.sheetnames == ["Summary", "Quarantined rows", "Failed checks"]
            quarantined = list(workbook["Quarantined rows"].iter_rows(values_only=True))
            checks = list(workbook["Failed checks"].iter_rows(values_only=True))
        finally:
            workbook.close()
        assert quarantined[0][:5] == ("file", "source", "dataset", "row", "reason")
        listed = Counter((r[0], r[3]) for r in quarantined[1:])
        assert listed == expected_rows.get(regency, Counter()), regency
        assert all(r[4] for r in quarantined[1:])  # every row says why
        assert {r[0] for r in checks[1:]} == expected_files.get(regency, set()), regency


def test_cli_writes_into_a_chosen_folder(landed, tmp_path):
    from lumbung.cli import main

    assert main(["report", "--out", str(tmp_path), "--since",
                 landed["since"].isoformat()]) == 0
    assert (tmp_path / "quality_report.html").is_file()
    meta = json.loads((tmp_path / "report.json").read_text())
    assert meta["rows_quarantined"] == sum(1 for d in landed["defects"]
                                           if d["expect"] == "quarantine")
    assert not (tmp_path / "latest").exists()


def test_trend_covers_the_landing_history(landed, report, db):
    rows = _table(_html(report), "trend")
    today = db.execute("select current_date::text").fetchone()[0]
    sources = {r[1] for r in rows if r[0] == today}
    assert {"survey", "idm", "apbdes", "bumdes", "ojk"} <= sources
    quarantined_today = sum(_int(r[4]) for r in rows if r[0] == today)
    assert quarantined_today >= sum(1 for d in landed["defects"] if d["expect"] == "quarantine")
    assert _table(_html(report), "check_trend")  # validations recorded in audit.dq_runs


def test_mart_sections_say_when_a_mart_is_missing(report, db):
    root = _html(report)
    for section_id, mart in (("idm_inconsistencies", "mart_idm"),
                             ("apbdes_identity_breaks", "mart_village_finance"),
                             ("cross_source", "mart_bumdes_regency")):
        heading = next(h for h in root.iter("h2") if h.get("id") == section_id)
        assert heading is not None
        built = db.execute("select to_regclass(%s) is not null", (f"marts.{mart}",)).fetchone()[0]
        text = ET.tostring(root, encoding="unicode")
        if not built:
            assert f"not available: marts.{mart} has not been built" in text


@pytest.fixture()
def probe_marts(db):
    """The three marts with the columns the report reads (as their branches define them),
    in a schema of their own: one broken row each, one sound."""
    db.execute("drop schema if exists report_probe cascade; create schema report_probe")
    db.execute("""
        create table report_probe.mart_idm as
        select * from (values
            ('1811', '1811012001', 2024, 'inconsistent', 'IKS, IDM', 0.61, 0.64, 'Berkembang',
             'Berkembang'),
            ('1811', '1811012002', 2024, 'consistent', null, 0.70, 0.70, 'Berkembang',
             'Berkembang')
        ) as t (regency_code, village_code, year, consistency, disagreeing_components,
                idm_published, idm_recomputed, status_published, status_recomputed)
    """)
    amounts = ("revenue", "spending", "surplus_deficit", "financing_receipts",
               "financing_expenditure", "net_financing", "silpa", "silpa_previous_year")
    columns = ", ".join(f"{a}_{k} numeric" for a in amounts for k in ("budget", "realised"))
    db.execute(f"create table report_probe.mart_village_finance (regency_code text, "
               f"village_code text, year integer, {columns})")
    sound = dict(revenue=100, spending=90, surplus_deficit=10, financing_receipts=5,
                 financing_expenditure=15, net_financing=-10, silpa=0, silpa_previous_year=5)
    for year, silpa_prev in ((2023, 0), (2024, 7)):  # 2024 says 7 came over; 2023 left 0
        values = {f"{a}_{k}": (silpa_prev if a == "silpa_previous_year" else v)
                  for a, v in sound.items() for k in ("budget", "realised")}
        names = ", ".join(values)
        db.execute(f"insert into report_probe.mart_village_finance (regency_code, village_code, "
                   f"year, {names}) values ('1812', '1812012001', %s, "
                   + ", ".join(["%s"] * len(values)) + ")", (year, *values.values()))
    db.execute("""
        create table report_probe.mart_bumdes_regency as
        select * from (values
            ('1811', 'Kabupaten Mesuji', 2024, 10, 50.0, 80.0, -30.0, 2, true),
            ('1812', 'Kabupaten Tulang Bawang Barat', 2024, 9, 40.0, 40.0, 0.0, 0, false)
        ) as t (regency_code, regency_name, year, desa_compared_count,
                compared_pades_contribution_reported, compared_apbdes_4_1_1_realised,
                compared_pades_difference, desa_with_pades_discrepancy_count,
                is_pades_discrepancy)
    """)
    yield "report_probe"
    db.execute("drop schema report_probe cascade")


def test_mart_sections_read_the_marts(probe_marts, warehouse):
    from lumbung.reports import queries

    with psycopg.connect(warehouse.url()) as conn:
        idm_section = queries.idm_inconsistencies(conn, schema=probe_marts)
        finance = queries.apbdes_identity_breaks(conn, schema=probe_marts)
        cross = queries.cross_source_discrepancies(conn, schema=probe_marts)
    assert idm_section.unavailable is None and idm_section.total == 1
    assert idm_section.rows[0][1] == "1811012001"
    assert dict(idm_section.summary) == {"consistent": 1, "inconsistent": 1}
    assert finance.unavailable is None and finance.total == 1
    (row,) = finance.rows
    assert row[2] == 2024 and "previous year" in row[3] and row[6] == 7
    assert cross.unavailable is None and [r[0] for r in cross.rows] == ["1811"]


def test_a_mart_with_other_columns_is_reported_not_fatal(db, warehouse):
    from lumbung.reports import queries

    db.execute("drop schema if exists report_probe2 cascade; create schema report_probe2; "
               "create table report_probe2.mart_idm (village_code text)")
    try:
        with psycopg.connect(warehouse.url()) as conn:
            section = queries.idm_inconsistencies(conn, schema="report_probe2")
            assert conn.execute("select 1").fetchone() == (1,)  # the connection still works
    finally:
        db.execute("drop schema report_probe2 cascade")
    assert section.unavailable and "cannot be read as expected" in section.unavailable


def test_run_summary_names_the_report():
    from lumbung.runner import RunSummary

    summary = RunSummary("postgresql://x", [], {}, [], None,
                         reports="Quality report: /r/quality_report.html")
    assert "Quality report: /r/quality_report.html" in summary.render()
