"""The BUMDes pipeline: land registry pages and yearly reports, gate them, build staging.

Each function is one task of the ``bumdes`` DAG and is safe to run again: files already
landed are not landed twice, accepted batches are not validated again, and dbt rebuilds the
BUMDes staging models from accepted batches only (the latest registry snapshot; per BUMDes
and year the latest report).
"""

from __future__ import annotations

import logging
from pathlib import Path

from lumbung.config import Paths, PgUrl
from lumbung.dbt_runner import run_dbt
from lumbung.landing import BatchOutcome
from lumbung.pipelines.batches import counts, gate_all, land_all
from lumbung.sources import bumdes

log = logging.getLogger(__name__)

DBT_SELECT = "+stg_bumdes__registry +stg_bumdes__units +stg_bumdes__annual_reports"
PUBLISHED = (
    "staging.stg_bumdes__registry",
    "staging.stg_bumdes__units",
    "staging.stg_bumdes__annual_reports",
)


def land(
    warehouse: PgUrl, landing: Path, dag_id: str | None = None, run_id: str | None = None
) -> dict:
    """Land every registry page and report under ``<landing>/bumdes``; one batch per file."""
    files, problems = bumdes.discover(landing)
    for problem in problems:
        log.error("not landed: %s", problem)
    if not files:
        log.warning("%s: no BUMDes files to land", landing / bumdes.FOLDER)
    outcomes = land_all(warehouse, landing, files, bumdes.read, dag_id, run_id)
    return {"batches": [o.to_dict() for o in outcomes], "problems": problems}


def ingest_path(warehouse: PgUrl, path: Path) -> list[BatchOutcome]:
    """Land one registry page or report, or a landing folder."""
    if path.is_dir():
        root = path.parent if path.name == bumdes.FOLDER else path
        return [BatchOutcome(**b) for b in land(warehouse, root)["batches"]]
    item = bumdes.landing_file(path)
    return land_all(warehouse, path.parents[3], [item], bumdes.read)


def gate(warehouse: PgUrl, landed: dict) -> dict:
    """Validate every landed batch not yet accepted; raise GateFailed naming every failure."""
    return gate_all(warehouse, landed, "BUMDes")


def transform(paths: Paths, warehouse: PgUrl) -> None:
    """Build the BUMDes staging models with their tests: this source's staging alone
    (tests, maintenance); in production the marts DAG builds it with what it feeds."""
    run_dbt(paths, warehouse, "build", "--select", DBT_SELECT)


def published_counts(warehouse: PgUrl) -> dict[str, int]:
    return counts(warehouse, PUBLISHED)
