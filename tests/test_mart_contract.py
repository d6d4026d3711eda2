"""What a BI user reads without help (issue 14): one year column and a date in every yearly
mart, names beside every village code, region boundaries Superset's deck.gl charts draw, the
indicator catalogue and the publication record readable by ``lumbung_bi``."""

from __future__ import annotations

import json
from itertools import pairwise

import psycopg
import pytest
import yaml
from conftest import REPO, build_and_publish, run_dag

from lumbung.quality.rules import LAT_RANGE, LNG_RANGE
from lumbung.warehouse import bi_url

MARTS = REPO / "dbt_project" / "models" / "marts"
OLD_YEAR_NAMES = {"fiscal_year", "report_year", "access_year"}
VILLAGE_NAMES = {"village_name", "district_code", "district_name", "regency_code",
                 "regency_name"}


def _contracts() -> dict[str, dict[str, str]]:
    """Published table -> {column: data type}, from the marts' enforced contracts."""
    tables = {}
    for path in MARTS.rglob("_*__models.yml"):
        for model in yaml.safe_load(path.read_text(encoding="utf-8")).get("models", []):
            name = model.get("config", {}).get("alias", model["name"])
            tables[name] = {c["name"]: c.get("data_type") for c in model.get("columns", [])}
    return tables


def test_every_yearly_mart_has_year_and_date():
    contracts = _contracts()
    yearly = {t for t, cols in contracts.items() if "year" in cols}
    assert {"mart_idm", "mart_village_finance", "mart_bumdes", "mart_bumdes_regency",
            "mart_financial_access", "mart_financial_access_regency", "mart_smart_village",
            "mart_smart_village_province"} <= yearly
    for table, columns in contracts.items():
        assert not OLD_YEAR_NAMES & set(columns), table
        if table in yearly:
            assert columns["year"] == "integer" and columns.get("date") == "date", table


def test_every_village_level_mart_names_its_village_district_and_regency():
    contracts = _contracts()
    village_level = {t for t, cols in contracts.items() if "village_code" in cols}
    assert {"mart_village_finance", "mart_idm", "mart_idm_inconsistencies",
            "mart_bumdes", "mart_financial_access", "mart_smart_village",
            "dim_village"} <= village_level
    for table in village_level:
        assert VILLAGE_NAMES <= set(contracts[table]), table


@pytest.fixture(scope="module")
def regions(warehouse):
    """The region marts as the region DAG publishes them (its run here also
    records them in publication_info)."""
    assert str(run_dag("region").state) == "success"
    with psycopg.connect(warehouse.url()) as conn:
        cur = conn.execute("select * from marts.dim_region")
        names = [d.name for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _inside_lampung(points) -> bool:
    """Inside the box the gate checks centroids against (Lampung with a margin)."""
    (south, north), (west, east) = LAT_RANGE, LNG_RANGE
    return all(west <= lng <= east and south <= lat <= north for lng, lat in points)


def _polygons(geometry: dict) -> list:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    assert geometry["type"] == "MultiPolygon"
    return geometry["coordinates"]


def _area(ring: list) -> float:
    """Shoelace area of a ring, in square degrees."""
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(ring))) / 2


def test_boundaries_are_geojson_polygons_inside_lampung(regions):
    real = [r for r in regions if r["region_level"] in ("regency", "district")
            and not r["is_synthetic"]]
    levels = [r["region_level"] for r in real]
    assert levels.count("regency") == 15 and levels.count("district") == 229
    part_counts = {}
    for r in real:
        code = r["region_code"]
        assert len(code) == (4 if r["region_level"] == "regency" else 6), code
        feature = json.loads(r["geojson"])
        assert feature["type"] == "Feature" and feature["properties"]["region_code"] == code
        polygons = _polygons(feature["geometry"])
        part_counts[code] = len(polygons)
        assert polygons and all(len(ring) >= 4 and ring[0] == ring[-1]
                                for polygon in polygons for ring in polygon), code
        assert all(_inside_lampung(ring) for polygon in polygons for ring in polygon), code
        # the Polygon chart's ring is the outer ring of one of the parts
        ring = json.loads(r["boundary_polygon"])
        assert ring in [polygon[0] for polygon in polygons], code
        assert _inside_lampung([(r["longitude"], r["latitude"])]), code
    # multi-part regencies keep every part in geojson (Lampung Selatan's islands); the
    # Polygon chart's ring is the outer ring of the largest part
    assert part_counts["1801"] > 1
    selatan = next(r for r in real if r["region_code"] == "1801")
    largest = max(_polygons(json.loads(selatan["geojson"])["geometry"]),
                  key=lambda polygon: _area(polygon[0]))
    assert json.loads(selatan["boundary_polygon"]) == largest[0]


def test_villages_have_centroids_from_the_region_master(warehouse, regions, db):
    rows = db.execute("select count(*), count(latitude) from marts.dim_village "
                      "where is_current and not is_synthetic").fetchone()
    assert rows[0] == 2651 and rows[1] >= 2640  # 11 new desa have no published centroid
    (south, north), (west, east) = LAT_RANGE, LNG_RANGE
    assert db.execute(
        "select count(*) from marts.dim_village where latitude is not null "
        "and not (latitude between %s and %s and longitude between %s and %s)",
        (south, north, west, east)).fetchone()[0] == 0


@pytest.fixture(scope="module")
def catalogue_published(warehouse, paths, regions):
    return build_and_publish(paths, warehouse, "+mart_indicator_catalogue")


def test_bi_reads_the_catalogue_and_the_publication_record(
        catalogue_published, paths, warehouse, db):
    assert catalogue_published == ["ref_indicator_catalogue"]
    seed = REPO / "dbt_project" / "seeds" / "ref_indicator_catalogue.csv"
    seed_rows = seed.read_text(encoding="utf-8").strip().count("\n")
    with psycopg.connect(bi_url(paths, warehouse).url()) as bi:
        rows = bi.execute(
            "select dimension, indicator, source, rule, weight, methodology_version, "
            "description, is_active_version from marts.ref_indicator_catalogue").fetchall()
        info = {r[0]: r[1:] for r in bi.execute(
            "select mart, publication_id, latest_year, methodology_version, sources, "
            "batch_count, cardinality(batch_ids) from marts.publication_info")}
    assert len(rows) == seed_rows and all(r[1] and r[3] and r[4] > 0 for r in rows)
    active = {r[5] for r in rows if r[7]}
    assert len(active) == 1
    # the catalogue's record: its own publication, the active version, no landed source
    last = db.execute("select max(publication_id) from audit.publications").fetchone()[0]
    publication_id, latest_year, version, sources, batch_count, listed = info[
        "ref_indicator_catalogue"]
    assert (publication_id, latest_year, version, sources, batch_count) == (
        last, None, active.pop(), [], 0)
    # the region marts: built from the region master's batches accepted when published
    accepted = db.execute(
        "select count(*) from audit.load_batches where status = 'validated' "
        "and source = 'region' and validated_at <= (select published_at "
        "from marts.publication_info where mart = 'dim_region')").fetchone()[0]
    _, _, _, sources, batch_count, listed = info["dim_region"]
    assert sources == ["region"] and batch_count == listed == accepted > 0

