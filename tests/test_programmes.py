"""Development programmes: free-text locations matched to villages (unit cases), generated
SIPD and CSR exports landed with exactly the manifest's locations quarantined, and the
alignment marts' money adding up to what landed.

The year is one no other test lands, and every assertion is about that year and these
regencies, so other modules' data in the shared session warehouse does not matter.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from conftest import REPO

from lumbung.generate import GenerateConfig, generate
from lumbung.pipelines import programmes as pipeline
from lumbung.pipelines import village_master
from lumbung.pipelines.marts import audit, publish_marts
from lumbung.publish import build
from lumbung.sources import programmes
from lumbung.sources.village_locations import Gazetteer, Place, name_key

REGENCIES = ("1806", "1812")  # pekon (Tanggamus) and tiyuh (Tulang Bawang Barat)
YEAR = 2027
# The tests of the other families' models are their own modules' (the programmes' run here).
UPSTREAM_TESTS = [
    *(f"resource_type:{kind},path:models/{layer}/{folder}"
      for kind in ("test", "unit_test")
      for layer in ("staging", "intermediate", "marts")
      for folder in ("apbdes", "audit", "bumdes", "idm", "kemendagri", "ojk", "survey",
                     "smart_village", "core", "finance", "financial_access", "quality")),
    "path:tests",
]

# --- the matcher ---------------------------------------------------------------------------

PLACES = Gazetteer([
    Place("1806012001", "Sukamaju", "180601", "Wonosobo", "1806", "Kabupaten Tanggamus"),
    Place("1806022001", "Sukamaju", "180602", "Kota Agung", "1806", "Kabupaten Tanggamus"),
    Place("1806022002", "Way Sulan", "180602", "Kota Agung", "1806", "Kabupaten Tanggamus"),
    Place("1806022003", "Kampung Baru", "180602", "Kota Agung", "1806", "Kabupaten Tanggamus"),
    Place("1801042001", "Hajimena", "180104", "Natar", "1801", "Kabupaten Lampung Selatan"),
    Place("1801042002", "Sukamaju", "180104", "Natar", "1801", "Kabupaten Lampung Selatan"),
])


@pytest.mark.parametrize(("text", "regency", "level", "code"), [
    ("18.06.02.2002", None, "village", "1806022002"),
    ("1806022002", "1806", "village", "1806022002"),
    ("Pekon Way Sulan, Kec. Kota Agung", "1806", "village", "1806022002"),
    ("PEKON WAYSULAN KECAMATAN KOTA AGUNG", "1806", "village", "1806022002"),
    ("Ds.  way sulan ", "1806", "village", "1806022002"),
    ("Tiyuh Hajimena", None, "village", "1801042001"),
    ("Kampung Baru", "1806", "village", "1806022003"),  # a name beginning with a local word
    ("Kelurahan Kampung Baru", "1806", "village", "1806022003"),
    ("Desa Sukamaju, Kec. Wonosobo", "1806", "village", "1806012001"),
    ("Desa Sukamaju, Kec. Natar, Kab. Lampung Selatan", None, "village", "1801042002"),
    ("Pekon Sukamaju", "1801", "village", "1801042002"),  # unique within the regency
    ("Kec. Kota Agung", "1806", "district", "180602"),
    ("18.06.02", None, "district", "180602"),
])
def test_locations_match_villages_and_districts(text, regency, level, code):
    found = PLACES.match(text, regency)
    assert (found.level, found.code, found.problem) == (level, code, None)


@pytest.mark.parametrize(("text", "regency", "reason", "candidates"), [
    ("Pekon Sukamaju", "1806", "ambiguous village", ("18.06.01.2001", "18.06.02.2001")),
    ("Desa Sukamaju", None, "ambiguous village",
     ("18.06.01.2001", "18.06.02.2001", "18.01.04.2002")),
    ("Desa Way Sulan, Kec. Wonosobo", "1806", "no village 'Desa Way Sulan' in the district",
     ("18.06.02.2002",)),
    ("Desa Sukamakmur", "1806", "unknown village", ()),
    ("18.06.02.2999", None, "unknown village code", ()),
    ("1801042001", "1806", "unknown village code", ()),  # another regency's village
    ("Kec. Antah Berantah", None, "unknown district", ()),
    ("", None, "blank location", ()),
])
def test_unmatched_and_ambiguous_locations_say_why(text, regency, reason, candidates):
    found = PLACES.match(text, regency)
    assert found.code is None
    assert reason in found.problem
    for candidate in candidates:
        assert candidate in found.problem


def test_regency_names_as_written():
    for written in ("Kab. Tanggamus", "TANGGAMUS", "Kabupaten  Tanggamus"):
        assert PLACES.regency_for(written) == "1806"
    assert PLACES.regency_for("Kab. Antah") is None


def test_landing_paths_name_dataset_and_partition(tmp_path):
    root = tmp_path / "programmes"
    cases = {
        root / "sipd" / "kabupaten=1806" / "tahun=2024" / "a.csv": ("sipd_regency", "1806/2024"),
        root / "sipd" / "provinsi" / "tahun=2024" / "b.xlsx": ("sipd_province", "2024"),
        root / "csr" / "tahun=2023" / "c.csv": ("csr", "2023"),
    }
    for path, (dataset, key) in cases.items():
        item = programmes.landing_file(path)
        assert (item.spec.dataset, item.partition_key) == (dataset, key)
    with pytest.raises(programmes.UnrecognisedFile):
        programmes.landing_file(root / "sipd" / "kabupaten=1806" / "a.csv")


# --- landing generated exports -------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("programmes")
    generate(GenerateConfig(out=out, regencies=REGENCIES, years=(YEAR,), seed=5,
                            defects=0.05, sources=("programmes",)))
    return out


@pytest.fixture(scope="module")
def landed(generated, warehouse, paths, tmp_path_factory):
    landing = tmp_path_factory.mktemp("programmes_landing")
    shutil.copytree(REPO / "data" / "landing" / "region", landing / "region")
    village_master.gate(warehouse, village_master.land(warehouse, landing))
    with psycopg.connect(warehouse.url()) as conn:
        published = conn.execute("select to_regclass('marts.dim_village') is not null"
                                 ).fetchone()[0]
    if not published:  # locations are matched against it
        tables = village_master.transform(paths, warehouse)
        publish_marts(warehouse, audit(warehouse, tables)["audited"])
    outcomes = pipeline.ingest_path(warehouse, generated / "programmes")
    return outcomes


def _rows(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8-sig")
    first = text.split("\n", 1)[0]
    return list(csv.DictReader(text.splitlines(), delimiter=";" if ";" in first else ","))


def test_generated_exports_have_every_kind_of_messy_location(generated):
    manifest = json.loads((generated / "defects_manifest.json").read_text())
    assert {d["kind"] for d in manifest} >= {"ambiguous_location", "unmatched_location"}
    texts = [r["Lokasi"] for p in (generated / "programmes" / "sipd").rglob("*.csv")
             for r in _rows(p)]
    assert any(t.lower().startswith("pekon ") for t in texts)
    assert any(t.lower().startswith("tiyuh ") for t in texts)
    assert any(t.count(".") == 3 and t[:2] == "18" for t in texts)  # dotted codes
    assert any(t.isdigit() and len(t) == 10 for t in texts)  # plain codes
    assert any(t.lower().startswith("kec") for t in texts)  # whole districts


def test_exactly_the_manifest_is_quarantined_and_every_other_row_lands(landed, generated, db):
    manifest = json.loads((generated / "defects_manifest.json").read_text())
    assert len(landed) == 2 * 1 + 1 + 1  # two regencies' SIPD, the province's, the CSR
    quarantined = set()
    for outcome in landed:
        assert outcome.status == "loaded", outcome.reason
        assert outcome.rows_received == outcome.rows_loaded + outcome.rows_quarantined
        for number, reason in db.execute(
            "select row_number, reason from audit.quarantine where batch_id = %s",
            (outcome.batch_id,),
        ):
            quarantined.add((outcome.file_path, number))
            if "ambiguous" in reason:
                assert "candidates" in reason, reason
    assert quarantined == {(d["file"], d["row"]) for d in manifest}


def test_every_landed_location_is_the_village_or_district_it_names(landed, db):
    batches = [o.batch_id for o in landed]
    places = dict(db.execute(
        "select village_code, village_name from marts.dim_village where is_current"))
    districts = dict(db.execute(
        "select distinct district_code, district_name from marts.dim_village where is_current"))
    checked = 0
    for table in ("programmes_sipd_regency", "programmes_sipd_province", "programmes_csr"):
        for text, level, code in db.execute(
            f"select lokasi, _lokasi_tingkat, _lokasi_kode from raw.{table} "
            "where _batch_id = any(%s)", (batches,),
        ):
            named = places[code] if level == "village" else districts[code]
            key = name_key(text)
            assert code in key or name_key(named) in key, (text, level, code)
            checked += 1
    assert checked > 300


def test_the_gate_accepts_what_landed(landed, warehouse):
    gated = pipeline.gate(warehouse, {"batches": [o.to_dict() for o in landed],
                                      "problems": []})
    assert gated["failed"] == 0 and not gated["failures"]


# --- the alignment marts -------------------------------------------------------------------


def _landed_budgets(generated: Path, manifest: list[dict]) -> dict[str, Decimal]:
    """Budget per regency of every generated row not in the manifest, read from the files
    (its regency from the matched code: the file's regency, or the CSR row's)."""
    from lumbung.sources.tabular import parse_id_number

    bad = {(d["file"], d["row"]) for d in manifest}
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for path in sorted((generated / "programmes").rglob("*.csv")):
        relative = path.relative_to(generated).as_posix()
        for line, row in enumerate(_rows(path), start=2):
            if (relative, line) in bad:
                continue
            amount = row.get("Pagu (Rp)") or row["Nilai Program (Rp)"]
            totals["all"] += parse_id_number(amount)
    return totals


def test_alignment_money_adds_up_to_the_landed_budgets(landed, generated, warehouse, paths, db):
    pipeline.gate(warehouse, {"batches": [o.to_dict() for o in landed], "problems": []})
    build(paths, warehouse, "+mart_programme_alignment_regency", "--exclude", *UPSTREAM_TESTS)
    manifest = json.loads((generated / "defects_manifest.json").read_text())
    expected = _landed_budgets(generated, manifest)["all"]
    staged = db.execute(
        "select sum(budget_amount) from staging.stg_programmes__activities "
        "where programme_year = %s and batch_id = any(%s)",
        (YEAR, [o.batch_id for o in landed]),
    ).fetchone()[0]
    assert staged == expected
    regency_total, village_total, district_total = db.execute(
        "select sum(programme_budget), sum(village_programme_budget), "
        "sum(district_wide_programme_budget) "
        "from marts_build.mart_programme_alignment_regency where year = %s", (YEAR,),
    ).fetchone()
    assert regency_total == expected
    villages = db.execute(
        "select sum(programme_budget) from marts_build.mart_programme_alignment "
        "where year = %s", (YEAR,),
    ).fetchone()[0]
    assert villages == village_total
    assert village_total + district_total == expected
    assert district_total > 0


# --- the DAG -------------------------------------------------------------------------------


def test_dag_lands_gates_and_stages_the_default_generation(landing, paths, warehouse, db,
                                                           landed):
    """The factory DAG (with its wait for the region master) on a default generation: the
    default share of unmatched and ambiguous locations is quarantined, the rest staged."""
    from conftest import run_source_dag

    out = landing.parent / "programmes_generated"
    generate(GenerateConfig(out=out, regencies=REGENCIES, years=(YEAR + 1,), seed=3,
                            sources=("programmes",)))
    shutil.copytree(out / "programmes", landing / "programmes", dirs_exist_ok=True)
    run = run_source_dag("programmes", paths, warehouse)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", states
    manifest = [d for d in json.loads((out / "defects_manifest.json").read_text())
                if d["source"] == "programmes"]
    assert manifest and all(d["expect"] == "quarantine" for d in manifest)
    received, quarantined = db.execute(
        "select sum(rows_received), sum(rows_quarantined) from audit.load_batches "
        "where source = 'programmes' and partition_key like %s", (f"%{YEAR + 1}",),
    ).fetchone()
    assert quarantined == len(manifest)
    staged = db.execute(
        "select count(*) from staging.stg_programmes__activities where programme_year = %s",
        (YEAR + 1,),
    ).fetchone()[0]
    assert staged == received - quarantined
