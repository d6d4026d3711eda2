"""Generated sources agree across sources and with themselves: BUMDes reports, APBDes files
and IDM responses generated with defects and injected disagreements, landed and gated by the
real pipelines, the BUMDes and IDM marts built by dbt. The PADes reconciliation and the IDM
consistency check flag exactly the disagreements the manifest lists, nothing the defects
cause and nothing else.

The year is one no other test lands, and every assertion is about that year and these
regencies, so other modules' data in the shared session warehouse does not matter.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest
from conftest import audit_and_publish

from lumbung.generate import GenerateConfig, generate
from lumbung.pipelines import apbdes, bumdes, idm, village_master
from lumbung.pipelines.marts import audit, publish_marts
from lumbung.publish import build

REGENCIES = ("1811", "1812", "1813")  # flat CSV, Siskeudes zip, flat XLSX
YEAR = 2026
SELECT = ("+mart_bumdes", "+mart_bumdes_regency", "+mart_idm")
UPSTREAM_TESTS = [  # as in test_mart_bumdes: staging is tested by its own modules
    *(f"resource_type:{kind},path:models/{folder}"
      for kind in ("test", "unit_test")
      for folder in ("staging", "intermediate/kemendagri", "marts/core")),
    "path:tests",
]
REPO_LANDING = Path(__file__).resolve().parents[1] / "data" / "landing"


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("coherence")
    generate(GenerateConfig(out=out, regencies=REGENCIES, years=(YEAR,), seed=7,
                            defects=0.01, disagreements=0.1,
                            sources=("apbdes", "bumdes", "idm")))
    return out


@pytest.fixture(scope="module")
def built(warehouse, paths, generated, tmp_path_factory):
    landing = tmp_path_factory.mktemp("coherence_landing")
    shutil.copytree(REPO_LANDING / "region", landing / "region")
    for folder in ("apbdes", "bumdes", "idm"):
        shutil.copytree(generated / folder, landing / folder)
    village_master.gate(warehouse, village_master.land(warehouse, landing))
    with psycopg.connect(warehouse.url()) as conn:
        published = _exists(conn, "marts.dim_village")
    if not published:  # the APBDes gate checks desa codes against it
        tables = village_master.transform(paths, warehouse)
        publish_marts(warehouse, audit(warehouse, tables)["audited"])
    for pipeline in (bumdes, apbdes, idm):
        # defective files are rejected and rows quarantined (failures collected); the rest
        # goes on to staging
        pipeline.gate(warehouse, pipeline.land(warehouse, landing))
    build(paths, warehouse, *SELECT, "--exclude", *UPSTREAM_TESTS)
    audit_and_publish(paths, warehouse)
    return json.loads((generated / "defects_manifest.json").read_text())


def test_defects_and_disagreements_were_injected(built):
    expects = {(d["source"], d["expect"]) for d in built}
    assert ("bumdes", "flag") in expects
    assert {("apbdes", "quarantine"), ("bumdes", "quarantine")} & expects


def test_reconciliation_flags_exactly_the_injected_disagreements(built, db):
    injected = {d["detail"].split(":")[0].removeprefix("Kode Desa ")
                for d in built if d["kind"] == "pades_disagrees_with_apbdes"}
    assert injected
    rows = db.execute(
        "select village_code, pades_reconciliation_status, is_pades_discrepancy "
        "from marts.mart_bumdes where year = %s and regency_code = any(%s) "
        "and has_report", (YEAR, list(REGENCIES)),
    ).fetchall()
    flagged = {village for village, _, discrepancy in rows if discrepancy}
    assert flagged == injected
    statuses = {status for _, status, _ in rows}
    assert "consistent" in statuses
    # the regency rollup counts the same desa
    counted = db.execute(
        "select coalesce(sum(desa_with_pades_discrepancy_count), 0) from "
        "marts.mart_bumdes_regency where year = %s and regency_code = any(%s)",
        (YEAR, list(REGENCIES)),
    ).fetchone()[0]
    assert counted == len(injected)


def test_idm_consistency_flags_exactly_the_injected_disagreements(built, db):
    injected = {Path(d["file"]).stem for d in built if d["kind"] == "published_index_disagrees"}
    assert injected
    assert any(d["source"] == "idm" and d["expect"] != "flag" for d in built)
    inconsistent = {code for (code,) in db.execute(
        "select village_code from marts.mart_idm where year = %s and regency_code = any(%s) "
        "and consistency = 'inconsistent'", (YEAR, list(REGENCIES)))}
    assert inconsistent == injected
