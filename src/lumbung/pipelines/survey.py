"""The Smart Village survey pipeline: land the form exports, gate them, build staging.

Each function is one task of the ``smart_village_survey`` DAG and is safe to run again:
files already landed are not landed twice, accepted batches are not validated again, and
dbt rebuilds ``stg_survey__responses`` from accepted batches only (latest submission wins).
"""

from __future__ import annotations

import logging
from pathlib import Path

from lumbung.config import Paths, PgUrl
from lumbung.dbt_runner import run_dbt
from lumbung.landing import BatchOutcome
from lumbung.pipelines.batches import counts, gate_all, land_all
from lumbung.sources import survey

log = logging.getLogger(__name__)

DBT_SELECT = "+stg_survey__responses"
PUBLISHED = ("staging.stg_survey__responses",)


def land(
    warehouse: PgUrl, landing: Path, dag_id: str | None = None, run_id: str | None = None
) -> dict:
    """Land every survey export under ``<landing>/survey``; one batch per file."""
    files, problems = survey.discover(landing)
    for problem in problems:
        log.error("not landed: %s", problem)
    if not files:
        log.warning("%s: no survey exports to land", landing / survey.FOLDER)
    outcomes = land_all(warehouse, landing, files, survey.read, dag_id, run_id)
    return {"batches": [o.to_dict() for o in outcomes], "problems": problems}


def ingest_path(warehouse: PgUrl, path: Path) -> list[BatchOutcome]:
    """Land one survey export (inside a ``tahun=<year>`` folder) or a landing folder."""
    if path.is_dir():
        root = path.parent if path.name == survey.FOLDER else path
        return [BatchOutcome(**b) for b in land(warehouse, root)["batches"]]
    item = survey.landing_file(path)
    return land_all(warehouse, path.parent.parent.parent, [item], survey.read)


def gate(warehouse: PgUrl, landed: dict) -> dict:
    """Validate every landed batch not yet accepted; raise GateFailed naming every failure."""
    return gate_all(warehouse, landed, "Smart Village survey")


def transform(paths: Paths, warehouse: PgUrl) -> None:
    """Build the survey staging model (and the answer mapping seed) with their tests: this
    source's staging alone (tests, maintenance); in production the marts DAG builds it with
    what it feeds."""
    run_dbt(paths, warehouse, "build", "--select", DBT_SELECT)


def published_counts(warehouse: PgUrl) -> dict[str, int]:
    return counts(warehouse, PUBLISHED)
