"""marts.mart_idm over every real IDM record: the 796 API responses go through the idm DAG
and dbt, and the marts are checked against an IDM recomputed here, in Python, from the
reference tables (tests/fixtures/idm/reference_*, an independent tabulation of the same
responses)."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import pytest
from conftest import REPO, build_and_publish, ensure_village_master, run_dag

FIXTURES = REPO / "tests" / "fixtures" / "idm"
YEARS = (2021, 2024)
# DOMAIN.md: IKS = sum/175, IKE = sum/60, IKL = sum/15 and the class ceilings of the status.
POINTS = {"IKS": 175, "IKE": 60, "IKL": 15}
CEILINGS = ((Fraction("0.4907"), "Sangat Tertinggal"), (Fraction("0.5989"), "Tertinggal"),
            (Fraction("0.7072"), "Berkembang"), (Fraction("0.8155"), "Maju"))
# Published indices are rounded (14 decimals in the API, 4 in tables): within this they agree.
TOLERANCE = Fraction(5, 100_000)
COMPONENTS = ("iks", "ike", "ikl", "idm")


@dataclass(frozen=True)
class Expected:
    published: dict[str, Fraction]
    recomputed: dict[str, Fraction]
    status_published: str
    status_recomputed: str

    def disagrees(self, component: str) -> bool:
        if component == "status":
            return self.status_published != self.status_recomputed
        return abs(self.published[component] - self.recomputed[component]) > TOLERANCE


def _status(idm: Fraction) -> str:
    return next((status for ceiling, status in CEILINGS if idm <= ceiling), "Mandiri")


def _reference() -> dict[tuple[str, int], Expected]:
    """The IDM of every reference village-year, recomputed with exact fractions."""
    points: dict[tuple[str, int], dict[str, Fraction]] = defaultdict(
        lambda: dict.fromkeys(POINTS, Fraction(0)))
    counts: dict[tuple[str, int], int] = defaultdict(int)
    with gzip.open(FIXTURES / "reference_scores_2021_2024.csv.gz", "rt", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            key = (row["kode_desa"], int(row["tahun"]))
            points[key][row["dimensi"]] += Fraction(row["skor"])
            counts[key] += 1
    expected = {}
    text = (FIXTURES / "reference_published_2021_2024.csv").read_text(encoding="utf-8")
    for row in csv.DictReader(io.StringIO(text)):
        key = (row["kode_desa"], int(row["tahun"]))
        assert counts[key] == 50, key  # the reference is complete: every score is compared
        recomputed = {d.lower(): points[key][d] / POINTS[d] for d in POINTS}
        recomputed["idm"] = sum(recomputed.values()) / 3
        expected[key] = Expected(
            published={c: Fraction(row[c]) for c in COMPONENTS},
            recomputed=recomputed,
            status_published=row["status_idm"].strip().title(),
            status_recomputed=_status(recomputed["idm"]),
        )
    return expected


def build_idm_marts(paths, warehouse) -> list[str]:
    """Build, audit and publish the IDM marts and everything they need, as the marts DAG
    does (write-audit-publish)."""
    return build_and_publish(paths, warehouse, "+mart_idm", "+mart_idm_inconsistencies")


@pytest.fixture(scope="module")
def reference() -> dict[tuple[str, int], Expected]:
    return _reference()


@pytest.fixture(scope="module")
def idm_marts(warehouse, paths):
    # dim_village, which mart_idm takes the village names from: built once per session
    ensure_village_master(warehouse)
    dag_run = run_dag("idm")
    assert str(dag_run.state) == "success"
    return build_idm_marts(paths, warehouse)


@pytest.fixture(scope="module")
def mart(idm_marts, warehouse, landing) -> dict[tuple[str, int], dict]:
    """The mart's rows of the files in the session's landing (the real sample): other
    modules land their own IDM files, from their own folders, into the same warehouse."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(warehouse.url(), row_factory=dict_row) as conn:
        rows = conn.execute(
            "select m.*, b.file_path from marts.mart_idm as m "
            "join audit.load_batches as b using (batch_id) where m.year between %s and %s",
            YEARS).fetchall()
    return {(r["village_code"], r["year"]): r for r in rows
            if (landing / r["file_path"]).exists()}


def _close(value: Decimal | None, exact: Fraction) -> bool:
    """Equal to the exact fraction up to PostgreSQL's numeric division (20 decimals)."""
    return value is not None and abs(Fraction(value) - exact) < Fraction(1, 10**15)


def test_mart_has_every_real_village_year(mart, reference):
    assert len(reference) == 796
    assert set(mart) == set(reference)
    assert all(r["is_complete"] and r["indicators_scored"] == 50 for r in mart.values())
    # every real desa is a current village: the mart names it from dim_village
    assert all(r["village_key"] and r["village_name"] for r in mart.values())
    assert all(r["regency_code"] == code[:4] for (code, _), r in mart.items())


def test_recomputation_matches_python_on_every_record(mart, reference):
    for key, expected in reference.items():
        row = mart[key]
        for c in COMPONENTS:
            assert Fraction(row[f"{c}_published"]) == expected.published[c], (key, c)
            assert _close(row[f"{c}_recomputed"], expected.recomputed[c]), (key, c)
            assert _close(row[f"{c}_difference"],
                          expected.published[c] - expected.recomputed[c]), (key, c)
        assert row["status_published"] == expected.status_published, key
        assert row["status_recomputed"] == expected.status_recomputed, key


def test_flags_exactly_the_published_values_that_disagree_with_their_scores(mart, reference):
    for component in (*COMPONENTS, "status"):
        flagged = {k for k, r in mart.items() if r[f"{component}_disagrees"]}
        assert flagged == {k for k, e in reference.items() if e.disagrees(component)}, component
    inconsistent = {k for k, e in reference.items()
                    if any(e.disagrees(c) for c in (*COMPONENTS, "status"))}
    assert inconsistent  # real published data does disagree with its own scores
    assert {k for k, r in mart.items() if r["consistency"] == "inconsistent"} == inconsistent
    assert {k for k, r in mart.items() if r["consistency"] == "consistent"} == (
        set(reference) - inconsistent)
    # the tolerance decides nothing on real data: agreeing values differ by rounding only,
    # disagreeing ones by at least an indicator point (IDM 1/525, IKS 1/175, ...)
    gaps = [abs(e.published[c] - e.recomputed[c]) for e in reference.values() for c in COMPONENTS]
    assert max(g for g in gaps if g <= TOLERANCE) < Fraction(1, 10**12)
    assert min(g for g in gaps if g > TOLERANCE) >= Fraction(1, 525) - Fraction(1, 10**12)


def test_inconsistencies_list_every_disagreement_for_auditors(mart, warehouse, reference):
    import psycopg

    with psycopg.connect(warehouse.url()) as conn:
        listed = [row for row in conn.execute(
            "select village_code, year, component, finding, difference, detail "
            "from marts.mart_idm_inconsistencies where year between %s and %s", YEARS
        ).fetchall() if (row[0], row[1]) in mart]
    expected = {(*key, c.upper() if c != "status" else c)
                for key, e in reference.items() for c in (*COMPONENTS, "status")
                if e.disagrees(c)}
    assert {(code, year, component) for code, year, component, *_ in listed} == expected
    assert len(listed) == len(expected)
    assert all(finding == "disagrees" and detail for *_, finding, _, detail in listed)
    for code, year, component, _, difference, _ in listed:
        e = reference[(code, year)]
        if component == "status":
            order = [s for _, s in CEILINGS] + ["Mandiri"]
            assert difference == (order.index(e.status_published)
                                  - order.index(e.status_recomputed))
        else:
            c = component.lower()
            assert _close(difference, e.published[c] - e.recomputed[c])


def test_marts_are_documented_granted_and_exposed(idm_marts, db, paths):
    for table in ("mart_idm", "mart_idm_inconsistencies"):
        columns = db.execute(
            """
            select a.attname, col_description(a.attrelid, a.attnum)
            from pg_attribute as a
            where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
            """,
            (f"marts.{table}",),
        ).fetchall()
        assert columns and all(comment for _, comment in columns), table
        assert db.execute("select obj_description(%s::regclass)", (f"marts.{table}",)
                          ).fetchone()[0]
        assert db.execute("select has_table_privilege('lumbung_bi', %s, 'select')",
                          (f"marts.{table}",)).fetchone()[0]
    manifest = json.loads((paths.dbt_target / "manifest.json").read_text(encoding="utf-8"))
    exposure = manifest["exposures"]["exposure.lumbung.idm_audit_dashboard"]
    assert {"model.lumbung.mart_idm", "model.lumbung.mart_idm_inconsistencies"} <= set(
        exposure["depends_on"]["nodes"])
    assert manifest["nodes"]["model.lumbung.mart_idm"]["config"]["contract"]["enforced"]
