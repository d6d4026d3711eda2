"""The OJK financial access pipeline: land access and KUR reports, gate them, build staging.

Each function is one task of the ``ojk_financial_access`` DAG and is safe to run again:
files already landed are not landed twice, accepted batches are not validated again, and dbt
rebuilds the OJK staging models from accepted batches only (per month or quarter, the latest
delivered report).
"""

from __future__ import annotations

import logging
from pathlib import Path

from lumbung.config import Paths, PgUrl
from lumbung.dbt_runner import run_dbt
from lumbung.landing import BatchOutcome
from lumbung.pipelines.batches import counts, gate_all, land_all
from lumbung.sources import ojk

log = logging.getLogger(__name__)

DBT_SELECT = "+stg_ojk__access_points +stg_ojk__kur_district_quarter"
PUBLISHED = (
    "staging.stg_ojk__access_points",
    "staging.stg_ojk__kur_district_quarter",
)


def land(
    warehouse: PgUrl, landing: Path, dag_id: str | None = None, run_id: str | None = None
) -> dict:
    """Land every access and KUR report under ``<landing>/ojk``; one batch per file."""
    files, problems = ojk.discover(landing)
    for problem in problems:
        log.error("not landed: %s", problem)
    if not files:
        log.warning("%s: no OJK reports to land", landing / ojk.FOLDER)
    outcomes = land_all(warehouse, landing, files, ojk.read, dag_id, run_id)
    return {"batches": [o.to_dict() for o in outcomes], "problems": problems}


def ingest_path(warehouse: PgUrl, path: Path) -> list[BatchOutcome]:
    """Land one OJK report (inside its period folder), or a landing folder."""
    if path.is_dir():
        root = path.parent if path.name == ojk.FOLDER else path
        return [BatchOutcome(**b) for b in land(warehouse, root)["batches"]]
    item = ojk.landing_file(path)
    return land_all(warehouse, path.parents[3], [item], ojk.read)


def gate(warehouse: PgUrl, landed: dict) -> dict:
    """Validate every landed batch not yet accepted; raise GateFailed naming every failure."""
    return gate_all(warehouse, landed, "OJK financial access")


def transform(paths: Paths, warehouse: PgUrl) -> None:
    """Build the OJK staging models with their tests: this source's staging alone
    (tests, maintenance); in production the marts DAG builds it with what it feeds."""
    run_dbt(paths, warehouse, "build", "--select", DBT_SELECT)


def published_counts(warehouse: PgUrl) -> dict[str, int]:
    return counts(warehouse, PUBLISHED)
