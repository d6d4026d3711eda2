"""The programmes pipeline: land SIPD and CSR exports with their locations matched to
villages, gate them, build staging.

Each function is one task of the ``programmes`` DAG and is safe to run again: files already
landed are not landed twice, accepted batches are not validated again. Locations are matched
against the current villages of the published region master (``marts.dim_village``), so the
DAG waits for it; a file keeps the matches of the master it was landed with.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import psycopg

from lumbung.config import Paths, PgUrl
from lumbung.dbt_runner import run_dbt
from lumbung.landing import BatchOutcome
from lumbung.pipelines.batches import counts, gate_all, land_all
from lumbung.sources import programmes
from lumbung.sources.village_locations import Gazetteer, Place

log = logging.getLogger(__name__)

DBT_SELECT = "+stg_programmes__activities"
PUBLISHED = ("staging.stg_programmes__activities",)


class RegionMasterMissing(RuntimeError):
    """Locations cannot be matched before the region master is published."""


def gazetteer(warehouse: PgUrl) -> Gazetteer:
    """The current villages of the published region master."""
    with psycopg.connect(warehouse.url()) as conn:
        if conn.execute("select to_regclass('marts.dim_village')").fetchone()[0] is None:
            raise RegionMasterMissing("marts.dim_village is not published: run the "
                                      "region DAG first")
        rows = conn.execute(
            "select village_code, village_name, district_code, coalesce(district_name, ''), "
            "regency_code, coalesce(regency_name, '') from marts.dim_village where is_current"
        ).fetchall()
    return Gazetteer(Place(*row) for row in rows)


def _reader(warehouse: PgUrl):
    return functools.partial(programmes.read, gazetteer=gazetteer(warehouse))


def land(
    warehouse: PgUrl, landing: Path, dag_id: str | None = None, run_id: str | None = None
) -> dict:
    """Land every SIPD and CSR export under ``<landing>/programmes``; one batch per file."""
    files, problems = programmes.discover(landing)
    for problem in problems:
        log.error("not landed: %s", problem)
    if not files:
        log.warning("%s: no programme exports to land", landing / programmes.FOLDER)
        return {"batches": [], "problems": problems}
    outcomes = land_all(warehouse, landing, files, _reader(warehouse), dag_id, run_id)
    return {"batches": [o.to_dict() for o in outcomes], "problems": problems}


def ingest_path(warehouse: PgUrl, path: Path) -> list[BatchOutcome]:
    """Land one programme export (inside its ``tahun=<year>`` folder) or a landing folder."""
    if path.is_dir():
        root = path.parent if path.name == programmes.FOLDER else path
        return [BatchOutcome(**b) for b in land(warehouse, root)["batches"]]
    item = programmes.landing_file(path)
    # shown relative to the landing folder when the file is in one
    root = next((p.parent for p in path.parents if p.name == programmes.FOLDER), path.parent)
    return land_all(warehouse, root, [item], _reader(warehouse))


def gate(warehouse: PgUrl, landed: dict) -> dict:
    """Validate every landed batch not yet accepted, each dataset's in one checkpoint run;
    raise GateFailed naming every failure."""
    return gate_all(warehouse, landed, "development programmes")


def transform(paths: Paths, warehouse: PgUrl) -> None:
    """Build the programmes staging with its tests: this source's staging alone (tests,
    maintenance); in production the marts DAG builds it with what it feeds."""
    run_dbt(paths, warehouse, "build", "--select", DBT_SELECT)


def published_counts(warehouse: PgUrl) -> dict[str, int]:
    return counts(warehouse, PUBLISHED)
