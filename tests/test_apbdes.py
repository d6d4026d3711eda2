"""APBDes end to end: generated Siskeudes zips and flat templates, real DAG, gate and dbt.

Expected figures are computed here from the generated files themselves (not from the
generator's code), so staging is checked against what was delivered.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import zipfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from conftest import run_dag, run_source_dag

from lumbung.generate import GenerateConfig, generate
from lumbung.sources import apbdes

YEAR = 2024
REGENCIES = ("1811", "1812", "1813")  # flat CSV, Siskeudes zip (+ resubmission), flat XLSX
DEFECT_YEARS = (2022, 2023)
DEFECT_SEED = 51  # a seed whose files carry every kind of defect, at rate 0.02
ZERO = Decimal(0)


def _idr(text: str) -> Decimal:
    """Rupiah as the generator writes it (1.234.567,00), read independently of the reader."""
    return Decimal(text.replace(".", "").replace(",", "."))


def _zip_tables(path: Path) -> dict[str, list[dict[str, str]]]:
    tables = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            text = zf.read(name).decode("utf-8-sig")
            delimiter = ";" if ";" in text.splitlines()[0] else ","
            tables[name.removesuffix(".csv")] = list(
                csv.DictReader(io.StringIO(text), delimiter=delimiter))
    return tables


def _flat_rows(path: Path) -> list[dict[str, str]]:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return list(csv.DictReader(fh, delimiter=";"))
    workbook = openpyxl.load_workbook(path, read_only=True)
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    header = [str(c) for c in rows[0]]
    return [{h: "" if v is None else str(v) for h, v in zip(header, r, strict=True)}
            for r in rows[1:]]


def _expected(path: Path) -> dict:
    """Budget and realisation per desa, and rows delivered, from one generated file."""
    budget: dict[str, Decimal] = defaultdict(Decimal)
    realised: dict[str, Decimal] = defaultdict(Decimal)
    regency = path.name.split("_")[1]
    if path.suffix == ".zip":
        tables = _zip_tables(path)

        def village(row: dict[str, str]) -> str:
            return regency + row["Kd_Desa"].replace(".", "")

        for row in tables["Ta_RABRinci"]:
            budget[village(row)] += _idr(row["AnggaranStlhPAK"])
        for row in tables["Ta_TBPRinci"]:
            realised[village(row)] += _idr(row["Nilai"])
        direct = {r["No_SPP"] for r in tables["Ta_SPP"] if r["Jn_SPP"] == "LS"}
        for row in tables["Ta_SPPRinci"]:
            if row["No_SPP"] in direct:
                realised[village(row)] += _idr(row["Nilai"])
        for row in tables["Ta_SPJRinci"]:
            realised[village(row)] += _idr(row["Nilai"])
        for row in tables["Ta_JurnalUmumRinci"]:
            debit, credit = _idr(row["Debet"]), _idr(row["Kredit"])
            if row["Kd_Rincian"].startswith("6.1."):
                realised[village(row)] += credit - debit
            elif row["Kd_Rincian"].startswith("6.2."):
                realised[village(row)] += debit - credit
        rows = sum(len(t) for t in tables.values())  # the member list is no data row
    else:
        flat = _flat_rows(path)
        for row in flat:
            code = row["Kd_Desa"].replace(".", "")
            budget[code] += Decimal(row["Nilai_Anggaran"]) if path.suffix == ".xlsx" \
                else _idr(row["Nilai_Anggaran"])
            realised[code] += Decimal(row["Nilai_Realisasi"]) if path.suffix == ".xlsx" \
                else _idr(row["Nilai_Realisasi"])
        rows = len(flat)
    return {"budget": dict(budget), "realised": dict(realised), "rows": rows}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("apbdes-clean")
    generate(GenerateConfig(out=out, regencies=REGENCIES, years=(YEAR,), seed=7,
                            sources=("apbdes",)))
    return out / "apbdes" / str(YEAR)


@pytest.fixture(scope="module")
def first_run(paths, warehouse, landing, generated):
    """The region master, then every regency's first submission (no resubmission yet)."""
    run_dag("region")
    target = landing / "apbdes" / str(YEAR)
    target.mkdir(parents=True, exist_ok=True)
    for path in generated.iterdir():
        if "_rev" not in path.name:
            shutil.copy(path, target / path.name)
    yield run_source_dag("apbdes", paths, warehouse)
    shutil.rmtree(landing / "apbdes", ignore_errors=True)


@pytest.fixture(scope="module")
def second_run(first_run, paths, warehouse, landing, generated):
    """Tulang Bawang Barat (1812) resubmits a corrected export for the year."""
    (rev,) = generated.glob("*_rev1.zip")
    shutil.copy(rev, landing / "apbdes" / str(YEAR) / rev.name)
    return run_source_dag("apbdes", paths, warehouse)


def _batches(db, year: int = YEAR) -> dict[str, tuple]:
    rows = db.execute(
        "select file_name, batch_id, status, rows_received, rows_loaded, rows_quarantined, "
        "status_reason from audit.load_batches where source = 'apbdes' and partition_key "
        "like %s order by batch_id", (f"%/{year}",)).fetchall()
    return {r[0]: r[1:] for r in rows}


def _staged(db, table: str, regency: str) -> dict[str, Decimal]:
    return dict(db.execute(
        f"select village_code, sum(amount) from staging.{table} "
        "where regency_code = %s and fiscal_year = %s group by 1", (regency, YEAR)).fetchall())


def test_raw_tables_match_the_reader_specs(warehouse, db):
    for table in (*apbdes.SISKEUDES_TABLES, apbdes.FLAT_TABLE):
        columns = [r[0] for r in db.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' "
            "and table_name = %s order by ordinal_position", (table.raw_table,))]
        assert columns == ["_batch_id", "_row_number",
                           *(c.lower() for c in table.required + table.optional)], table.name


def test_amounts_are_read_in_indonesian_and_plain_notation():
    read = apbdes.parse_amount
    assert read("1.234.567,00") == Decimal("1234567.00")
    assert read(" 1234567,5 ") == Decimal("1234567.5")
    assert read("1250000.25") == Decimal("1250000.25")
    assert read("1.234") == Decimal("1234")  # three-digit groups are thousands
    assert read("-250.000,00") == Decimal("-250000.00")
    for wrong in ("1,250,000.00", "Rp 1.000", "#VALUE!", "-", "", "1.25O,00"):
        assert read(wrong) is None, wrong


def test_generator_is_deterministic(tmp_path):
    digests = []
    for run in ("a", "b"):
        generate(GenerateConfig(out=tmp_path / run, regencies=("1812", "1813"), years=(YEAR,),
                                seed=3, sources=("apbdes",)))
        digests.append(sorted(
            (p.name, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in (tmp_path / run).rglob("*") if p.is_file()))
    assert digests[0] == digests[1]


def test_first_run_succeeds(first_run):
    states = {ti.task_id: str(ti.state) for ti in first_run.get_task_instances()}
    assert str(first_run.state) == "success", states
    assert set(states.values()) == {"success"}


def test_every_row_is_accounted_for(first_run, db, generated):
    batches = _batches(db)
    originals = sorted(p for p in generated.iterdir() if "_rev" not in p.name)
    assert sorted(batches) == sorted(p.name for p in originals)
    for path in originals:
        _, status, received, loaded, quarantined, _ = batches[path.name]
        assert status == "validated", path.name
        assert received == loaded + quarantined == _expected(path)["rows"], path.name
        assert quarantined == 0, path.name


def test_format_quirks_are_recorded(first_run, db):
    members = dict(db.execute(
        "select member, delimiter || '/' || has_bom from raw.apbdes_file_members m "
        "join audit.load_batches b on b.batch_id = m._batch_id where b.source = 'apbdes'"
    ).fetchall())
    assert members[f"apbdes_1811_{YEAR}.csv"] == ";/yes"  # Excel's CSV: ';' and a BOM
    assert members["Ta_RABRinci.csv"] == ",/no"


def test_staging_figures_equal_the_delivered_files(first_run, db, generated):
    for path in sorted(p for p in generated.iterdir() if "_rev" not in p.name):
        regency = path.name.split("_")[1]
        expected = _expected(path)
        assert _staged(db, "stg_apbdes__budget_lines", regency) == expected["budget"], path.name
        realised = {k: v for k, v in expected["realised"].items() if v}
        assert _staged(db, "stg_apbdes__realisation_lines", regency) == realised, path.name


def test_budgets_and_realisation_are_plausible(first_run, db):
    per_desa = db.execute(
        """
        select village_code,
            sum(amount) filter (where account_code = '4.2.1.01'),
            sum(amount) filter (where account_group = 'pendapatan'),
            sum(amount) filter (where account_group = 'belanja')
        from staging.stg_apbdes__budget_lines group by 1
        """).fetchall()
    assert len(per_desa) == 105 + 100 + 116  # every desa of the three regencies
    for code, dana_desa, revenue, spending in per_desa:
        assert 700_000_000 <= dana_desa <= 1_500_000_000, code
        assert revenue > dana_desa and spending > 0, code
    absorption = db.execute(
        """
        select sum(r.amount) / sum(b.amount)
        from (select village_code, sum(amount) as amount from staging.stg_apbdes__budget_lines
              where account_group = 'belanja' group by 1) as b
        join (select village_code, sum(amount) as amount
              from staging.stg_apbdes__realisation_lines
              where realisation_kind = 'spending' group by 1) as r using (village_code)
        """).fetchone()[0]
    assert Decimal("0.6") < absorption < 1
    quarters = dict(db.execute(
        "select realised_quarter, count(*) from staging.stg_apbdes__realisation_lines "
        "where submission_format = 'siskeudes' group by 1").fetchall())
    assert set(quarters) == {1, 2, 3, 4}


def test_resubmission_replaces_downstream_and_raw_keeps_both(second_run, db, generated):
    states = {ti.task_id: str(ti.state) for ti in second_run.get_task_instances()}
    assert str(second_run.state) == "success", states
    batches = _batches(db)
    original, revised = f"siskeudes_1812_{YEAR}.zip", f"siskeudes_1812_{YEAR}_rev1.zip"
    assert len(batches) == 4 and batches[revised][1] == "validated"
    winner = db.execute("select batch_id, revision from staging.stg_apbdes__submissions "
                        "where regency_code = '1812' and fiscal_year = %s", (YEAR,)).fetchone()
    assert winner == (batches[revised][0], 1)
    for name in (original, revised):
        assert db.execute("select count(*) from raw.apbdes_ta_rabrinci where _batch_id = %s",
                          (batches[name][0],)).fetchone()[0] > 0
    before, after = _expected(generated / original), _expected(generated / revised)
    assert _staged(db, "stg_apbdes__budget_lines", "1812") == after["budget"]
    changed = [c for c in after["budget"] if after["budget"][c] != before["budget"][c]]
    assert 0 < len(changed) < len(after["budget"])  # some desa were corrected, not all


def _tested(paths, warehouse, **pin) -> dict[str, str]:
    """``dbt test`` of the APBDes budget lines (with ``run_dbt``'s pin arguments): every test
    that ran, passed, with the SQL dbt ran for it."""
    from lumbung.dbt_runner import run_dbt

    run_dbt(paths, warehouse, "test", "--select", "stg_apbdes__budget_lines", **pin)
    results = json.loads((paths.dbt_target / "run_results.json").read_text())["results"]
    assert {r["status"] for r in results} == {"pass"}
    return {r["unique_id"]: r["compiled_code"] for r in results
            if r["unique_id"].startswith("test.")}


def test_a_selective_rebuild_tests_only_the_lines_released_since(second_run, paths, warehouse,
                                                                  db):
    """A selective rebuild after the resubmission (tested_after: the first run's release)
    tests the resubmission's lines; without tested_after, every line."""
    revised = _batches(db)[f"siskeudes_1812_{YEAR}_rev1.zip"][0]
    first_release, last_release = db.execute(
        "select min(visible_seq), max(visible_seq) from audit.load_batches "
        "where source = 'apbdes' and status = 'validated'").fetchone()
    assert first_release < last_release

    scoped = _tested(paths, warehouse, tested_after=first_release)
    assert len(scoped) >= 7  # the generic tests and the singular balance test
    for test, sql in scoped.items():
        assert f"where batch_id in ({revised})) dbt_subquery" in sql, test
    every = _tested(paths, warehouse)  # tested_after unset
    assert every.keys() == scoped.keys()
    assert not any("dbt_subquery" in sql for sql in every.values())
    nothing_new = _tested(paths, warehouse, tested_after=last_release)
    assert all("where false) dbt_subquery" in sql for sql in nothing_new.values())


@pytest.fixture(scope="module")
def defects_run(second_run, warehouse, tmp_path_factory):
    """Files full of known defects, landed and gated (not published: the DAG is not run)."""
    from lumbung.pipelines import apbdes as pipeline

    out = tmp_path_factory.mktemp("apbdes-defects")
    generate(GenerateConfig(out=out, regencies=REGENCIES, years=DEFECT_YEARS,
                            seed=DEFECT_SEED, defects=0.02, sources=("apbdes",)))
    landed = pipeline.land(warehouse, out)
    gated = pipeline.gate(warehouse, landed)
    manifest = json.loads((out / "defects_manifest.json").read_text())
    return landed, gated, manifest


def test_every_defect_is_caught_and_nothing_else(defects_run, db):
    landed, gated, manifest = defects_run
    batches = {Path(b["file_path"]).name: b for b in landed["batches"]}
    assert len(batches) == 7
    kinds = {d["kind"] for d in manifest}
    assert kinds >= {"non_numeric_amount", "negative_amount", "duplicate_row", "truncated_file",
                     "missing_column", "unknown_village", "semicolon_delimiter",
                     "byte_order_mark"}
    by_file: dict[str, list[dict]] = defaultdict(list)
    for defect in manifest:
        by_file[Path(defect["file"]).name].append(defect)
    statuses = {name: db.execute("select status, status_reason from audit.load_batches "
                                 "where batch_id = %s", (b["batch_id"],)).fetchone()
                for name, b in batches.items()}
    for name, batch in batches.items():
        defects = by_file.get(name, [])
        status, reason = statuses[name]
        whole = [d for d in defects if d["expect"] == "reject"]
        # Whole-file defects: rejected at landing, or (unknown desa) stopped by the gate.
        if any(d["kind"] in ("truncated_file", "missing_column") for d in whole):
            assert status == "rejected", (name, reason)
            continue
        if whole:
            (unknown,) = whole
            assert status == "failed", (name, reason)
            assert "Kd_Desa is a desa of the regency" in reason
            member = unknown["detail"].split(": ")[0] if name.endswith(".zip") else name
            assert f"{member}:{unknown['row']}" in reason, reason
        else:
            assert status == "validated", (name, reason)
        # Row defects: exactly the manifest's rows are quarantined, each in its table.
        wanted = set()
        for d in defects:
            if d["expect"] == "quarantine":
                part = d["detail"].split(": ")[0] if name.endswith(".zip") else name
                wanted.add((part, d["row"]))
        found = set()
        for row_number, why in db.execute(
            "select row_number, reason from audit.quarantine where batch_id = %s",
            (batch["batch_id"],),
        ).fetchall():
            part = why.rsplit(" (", 1)[1].rstrip(")")
            found.add((part.split(":")[0], row_number))
        assert found == wanted, name
        # Format quirks: tolerated, and on record in the member list.
        for d in (d for d in defects if d["expect"] == "accept"):
            member = d["detail"].split(": ")[0]
            delimiter, bom = db.execute(
                "select delimiter, has_bom from raw.apbdes_file_members "
                "where _batch_id = %s and member = %s", (batch["batch_id"], member)).fetchone()
            assert (delimiter, bom) == ((";", "no") if d["kind"] == "semicolon_delimiter"
                                        else (",", "yes")), (name, member)
    assert len(gated["failures"]) == sum(
        1 for f in by_file.values() if any(d["expect"] == "reject" for d in f))
