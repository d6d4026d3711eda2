"""BUMDes Center and financial access marts end to end: one regency's generated BUMDes,
APBDes and OJK files landed and gated by the real pipelines, the marts built by dbt, and
their figures checked against expectations computed here from the generated files.

The year is one no other test lands, and every assertion is about that year and regency,
so the data other test modules put in the shared session warehouse does not matter. It is
also later than any other module's: the BUMDes registry is a snapshot, and staging reads
only the latest one, so this module's registry must be it.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from openpyxl import load_workbook

from lumbung.config import Paths, PgUrl
from lumbung.generate import GenerateConfig, generate
from lumbung.pipelines import apbdes, bumdes, ojk, village_master
from lumbung.pipelines.marts import audit, publish_marts
from lumbung.publish import build
from lumbung.sources.tabular import parse_id_number

REGENCY = "1812"  # Tulang Bawang Barat: desa and kelurahan, a Siskeudes zip
YEAR = 2027  # the latest year any module lands (see above)
MARTS_SELECT = ("+mart_bumdes+ +mart_bumdes_regency+ +mart_financial_access+ "
                "+mart_financial_access_regency+")
# The models upstream are rebuilt, as the marts read them, but not tested again: each
# source's own DAG and test module tests its staging (about 300 tests, half a minute).
UPSTREAM_TESTS = [
    *(f"resource_type:{kind},path:models/{folder}"
      for kind in ("test", "unit_test")
      for folder in ("staging", "intermediate/kemendagri", "marts/core")),
    "path:tests",  # singular tests
]


def build_marts(paths: Paths, warehouse: PgUrl) -> list[str]:
    """Write-audit-publish of the BUMDes and financial access marts, as the marts DAG does
    for every mart: dbt builds them (and everything upstream) with their tests into the
    build schema, their audit suites run there, and they are published into ``marts``."""
    built = build(paths, warehouse, MARTS_SELECT, "--exclude", *UPSTREAM_TESTS)
    # the region marts are published by their own DAG
    tables = [t for t in built if t.startswith("mart_")]
    publish_marts(warehouse, audit(warehouse, tables)["audited"])
    return tables


def land_and_gate(paths: Paths, warehouse: PgUrl, landing: Path) -> None:
    """Land and gate the region master and the three sources as their DAG tasks do. The
    APBDes gate checks desa codes against marts.dim_village: unless an earlier test module
    published it, publish the region master first, as its DAG would have."""
    for pipeline in (village_master, bumdes, apbdes, ojk):
        gated = pipeline.gate(warehouse, pipeline.land(warehouse, landing))
        # the APBDes gate collects its failures instead of raising them
        assert not gated.get("failures"), gated
        if pipeline is village_master and not _exists(warehouse, "marts.dim_village"):
            built = village_master.transform(paths, warehouse)
            publish_marts(warehouse, audit(warehouse, built)["audited"])


def _exists(warehouse: PgUrl, relation: str) -> bool:
    with psycopg.connect(warehouse.url()) as conn:
        return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


REPO_LANDING = Path(__file__).resolve().parents[1] / "data" / "landing"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mart_bumdes")
    generate(GenerateConfig(out=out, regencies=(REGENCY,), years=(YEAR,), seed=5,
                            sources=("bumdes", "apbdes", "ojk")))
    return out


@pytest.fixture(scope="module")
def built(warehouse, paths, landing, generated, tmp_path_factory):
    # Only this regency's first APBDes submission: the mart must follow what staging
    # selects, which other tests check; one file keeps the expectation plain. Its own
    # landing folder (the region master as vendored): other modules count the session's.
    landing = tmp_path_factory.mktemp("mart_bumdes_landing")
    shutil.copytree(REPO_LANDING / "region", landing / "region")
    for folder in ("bumdes", "ojk"):
        shutil.copytree(generated / folder, landing / folder, dirs_exist_ok=True)
    target = landing / "apbdes" / str(YEAR)
    target.mkdir(parents=True, exist_ok=True)
    for path in (generated / "apbdes" / str(YEAR)).iterdir():
        if "_rev" not in path.name:
            shutil.copy(path, target / path.name)
    land_and_gate(paths, warehouse, landing)
    assert sorted(build_marts(paths, warehouse)) == [
        "mart_bumdes", "mart_bumdes_regency", "mart_financial_access",
        "mart_financial_access_regency"]
    return generated


# --- expectations read from the generated files, independently of the pipeline ----------


def _registry(out: Path) -> list[dict]:
    items: list[dict] = []
    for page in sorted((out / "bumdes" / "registry").rglob("*.json")):
        items += json.loads(page.read_text(encoding="utf-8"))["data"]
    return items


def _reports(out: Path) -> dict[str, dict]:
    """The year's BUMDes reports by BUMDes id, whatever the file format."""
    rows: list[dict] = []
    for path in sorted((out / "bumdes" / "laporan" / f"tahun={YEAR}").iterdir()):
        if path.suffix == ".csv":
            text = path.read_text(encoding="utf-8")
            header = text.splitlines()[0]
            delimiter = ";" if header.count(";") > header.count(",") else ","
            rows += csv.DictReader(io.StringIO(text), delimiter=delimiter)
        else:
            values = [r for r in load_workbook(path, read_only=True).worksheets[0]
                      .iter_rows(values_only=True) if any(v is not None for v in r)]
            start = next(i for i, r in enumerate(values) if r[0] == "No")
            rows += [dict(zip(values[start], r, strict=False)) for r in values[start + 1:]]
    return {str(r["ID BUMDes"]): r for r in rows}


def _amount(value: object) -> Decimal:
    return Decimal(value) if isinstance(value, int) else parse_id_number(str(value))


def _idr(text: str) -> Decimal:
    """Siskeudes rupiah (1.234.567,00)."""
    return Decimal(text.replace(".", "").replace(",", "."))


def _apbdes_4_1_1(out: Path) -> dict[str, Decimal]:
    """4.1.1 revenue realised per desa in the Siskeudes export: receipts (Ta_TBPRinci)."""
    (path,) = [p for p in (out / "apbdes" / str(YEAR)).iterdir() if "_rev" not in p.name]
    assert path.suffix == ".zip", path
    realised: dict[str, Decimal] = defaultdict(Decimal)
    with zipfile.ZipFile(path) as zf:
        apbdes_villages = set()
        for name in zf.namelist():
            text = zf.read(name).decode("utf-8-sig")
            delimiter = ";" if ";" in text.splitlines()[0] else ","
            rows = list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
            if name.startswith("Ta_RABRinci"):
                apbdes_villages |= {REGENCY + r["Kd_Desa"].replace(".", "") for r in rows}
            if name.startswith("Ta_TBPRinci"):
                for row in rows:
                    if row["Kd_Rincian"].startswith("4.1.1."):
                        realised[REGENCY + row["Kd_Desa"].replace(".", "")] += _idr(row["Nilai"])
    return {v: realised.get(v, Decimal(0)) for v in apbdes_villages}


def _desa(out: Path) -> tuple[set[str], set[str]]:
    """Current desa and kelurahan of the regency in the vendored region master."""
    region = sorted((Path(__file__).resolve().parents[1] / "data" / "landing" / "region")
                    .glob("edition=*"))[-1]
    (path,) = region.glob("*villages*.csv")
    with path.open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["code_10"].startswith(REGENCY)]
    return ({r["code_10"] for r in rows if r["type"] == "desa"},
            {r["code_10"] for r in rows if r["type"] == "kelurahan"})


def _sheet(path: Path, name: str) -> list[dict]:
    rows = [r for r in load_workbook(path, read_only=True)[name].iter_rows(values_only=True)
            if any(v is not None for v in r)]
    start = next(i for i, r in enumerate(rows) if r[0] == "No")
    return [dict(zip(rows[start], r, strict=False)) for r in rows[start + 1:]]


def _regency_row(db, mart: str, columns: str) -> tuple:
    """The given columns of the row of REGENCY and YEAR in a regency mart."""
    return db.execute(f"select {columns} from marts.{mart} where regency_code = %s and year = %s",
                      (REGENCY, YEAR)).fetchone()


# --- BUMDes Center ---------------------------------------------------------------------


def test_regency_coverage_matches_the_registry(built, db):
    items = _registry(built)
    desa, _ = _desa(built)
    with_bumdes = {i["kode_desa"] for i in items if i["kode_desa"] in desa}
    legal = {i["kode_desa"] for i in items if i["kode_desa"] in desa
             and i["status_badan_hukum"] == "Berbadan Hukum"
             and (i["tanggal_sertifikat"] or "") <= f"{YEAR}-12-31"}
    row = _regency_row(db, "mart_bumdes_regency",
                       "desa_count, desa_with_bumdes_count, desa_with_bumdes_share, "
                       "desa_with_legal_entity_bumdes_count, desa_with_legal_entity_bumdes_share, "
                       "registered_bumdes_count")
    assert row == (
        len(desa), len(with_bumdes), round(Decimal(len(with_bumdes)) / len(desa), 4),
        len(legal), round(Decimal(len(legal)) / len(desa), 4), len(items),
    )
    assert 0 < len(legal) < len(with_bumdes) < len(desa)


def test_every_registry_bumdes_has_a_row_and_its_report(built, db):
    items = {str(i["id"]): i for i in _registry(built)}
    reports = _reports(built)
    rows = {r[0]: r[1:] for r in db.execute(
        "select bumdes_id, has_report, turnover, profit, pades_contribution, ranking_class, "
        "is_profitable, registration_stage from marts.mart_bumdes "
        "where year = %s and regency_code = %s", (YEAR, REGENCY))}
    assert set(rows) == set(items) | set(reports)
    assert 0 < len(reports) < len(items)  # some BUMDes did not report
    for bumdes_id, (has_report, turnover, profit, contribution, ranking, profitable,
                    stage) in rows.items():
        report = reports.get(bumdes_id)
        assert has_report == (report is not None)
        assert (stage == "legal_entity") == (items[bumdes_id]["status_badan_hukum"]
                                             == "Berbadan Hukum")
        if report is None:
            assert (turnover, profit, ranking, profitable) == (None, None, None, None)
            continue
        assert (turnover, profit, contribution) == tuple(
            _amount(report[k]) for k in ("Omzet (Rp)", "Laba (Rp)", "Kontribusi PADes (Rp)"))
        assert ranking == str(report["Klasifikasi"]).strip().capitalize()
        assert profitable == (profit > 0)


def test_contribution_disagreeing_with_apbdes_is_flagged(built, db):
    """Each reporting BUMDes' contribution against its desa's 4.1.1 receipts, computed from
    the Siskeudes export; the generated sources are independent, so both outcomes occur."""
    reports = _reports(built)
    apbdes_411 = _apbdes_4_1_1(built)
    rows = db.execute(
        "select bumdes_id, village_code, village_apbdes_4_1_1_realised, "
        "pades_reconciliation_status, is_pades_discrepancy from marts.mart_bumdes "
        "where year = %s and regency_code = %s and has_report", (YEAR, REGENCY),
    ).fetchall()
    statuses = defaultdict(int)
    for bumdes_id, village, realised, status, flagged in rows:
        reported = _amount(reports[bumdes_id]["Kontribusi PADes (Rp)"])
        assert village not in apbdes_411 or realised == apbdes_411[village]
        if village not in apbdes_411:
            expected = "no_apbdes"
        else:
            gap = abs(reported - apbdes_411[village])
            allowed = max(Decimal(100_000), Decimal("0.05") * max(reported, apbdes_411[village]))
            expected = "discrepancy" if gap > allowed else "consistent"
        assert status == expected, (bumdes_id, reported, apbdes_411.get(village))
        assert flagged == {"discrepancy": True, "consistent": False}.get(expected)
        statuses[status] += 1
    assert statuses["discrepancy"] > 0 and statuses["consistent"] > 0, statuses

    regency = _regency_row(db, "mart_bumdes_regency",
                           "desa_with_pades_discrepancy_count, desa_compared_count, "
                           "apbdes_4_1_1_realised_total, pades_contribution_reported_total, "
                           "desa_4_1_1_without_bumdes_report_count, desa_with_apbdes_count")
    reporting_villages = {reports[b]["Kode Desa"] for b in reports}
    assert regency == (
        statuses["discrepancy"], statuses["discrepancy"] + statuses["consistent"],
        sum(apbdes_411.values()),
        sum(_amount(r["Kontribusi PADes (Rp)"]) for r in reports.values()),
        sum(1 for v, amount in apbdes_411.items() if amount and v not in reporting_villages),
        len(apbdes_411),
    )


# --- financial access --------------------------------------------------------------------


def test_financial_access_per_village(built, db):
    desa, kelurahan = _desa(built)
    report = next((built / "ojk" / "akses").rglob(f"*{YEAR}-12.xlsx"))
    agents: dict[str, int] = defaultdict(int)
    for row in _sheet(report, "Agen Laku Pandai"):
        agents[row["Kode Desa"].replace(".", "")] += row["Jumlah Agen"]
    offices: dict[str, int] = defaultdict(int)
    atms: dict[str, int] = defaultdict(int)
    for row in _sheet(report, "Kantor Bank dan ATM"):
        district = row["Kode Kecamatan"].replace(".", "")
        offices[district] += sum(
            row[k] for k in ("Kantor Cabang", "Kantor Cabang Pembantu", "Kantor Kas"))
        atms[district] += row["ATM"]
    kur: dict[str, Decimal] = defaultdict(Decimal)
    for path in sorted((built / "ojk" / "kur").rglob(f"*{YEAR}Q*.xlsx")):
        for row in _sheet(path, "KUR per Kecamatan"):
            kur[row["Kode Kecamatan"].replace(".", "")] += _amount(row["Nilai Penyaluran (Rp)"])

    rows = {r[0]: r[1:] for r in db.execute(
        "select village_code, access_as_of, laku_pandai_agent_count, is_without_access_point, "
        "district_kur_disbursed_amount, kur_quarters_reported from marts.mart_financial_access "
        "where year = %s and regency_code = %s", (YEAR, REGENCY))}
    assert set(rows) == desa | kelurahan  # every current village, agent or not
    for village, (as_of, agent_count, without, kur_amount, quarters) in rows.items():
        district = village[:6]
        assert str(as_of) == f"{YEAR}-12-01"
        assert agent_count == agents.get(village, 0)
        assert without == (agents.get(village, 0) == 0 and offices.get(district, 0) == 0
                           and atms.get(district, 0) == 0)
        assert (kur_amount, quarters) == (kur.get(district, Decimal(0)), 4)
    without_agent = {v for v, r in rows.items() if r[1] == 0}
    assert kelurahan <= without_agent and 0 < len(without_agent) < len(rows)

    districts = {v[:6] for v in rows}
    regency = _regency_row(db, "mart_financial_access_regency",
                           "village_count, villages_with_agent_count, laku_pandai_agent_count, "
                           "district_count, bank_office_count, atm_count, kur_disbursed_amount")
    assert regency == (
        len(rows), len(rows) - len(without_agent), sum(agents.values()), len(districts),
        sum(offices[d] for d in districts), sum(atms[d] for d in districts),
        sum(kur.get(d, Decimal(0)) for d in districts),
    )


def test_marts_carry_column_comments_and_the_bi_role_reads_them(built, db):
    for table in ("mart_bumdes", "mart_bumdes_regency", "mart_financial_access",
                  "mart_financial_access_regency"):
        missing = db.execute(
            "select a.attname from pg_attribute a join pg_class c on c.oid = a.attrelid "
            "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'marts' "
            "and c.relname = %s and a.attnum > 0 and not a.attisdropped "
            "and col_description(c.oid, a.attnum) is null", (table,)).fetchall()
        assert missing == [], (table, missing)
        assert db.execute("select has_table_privilege('lumbung_bi', %s, 'select')",
                          (f"marts.{table}",)).fetchone()[0]
