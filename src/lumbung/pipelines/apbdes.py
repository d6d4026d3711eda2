"""The APBDes pipeline: land Siskeudes exports and flat templates, gate them, build staging.

Each function is one task of the ``apbdes`` DAG and is safe to run again: files already
landed are not landed twice, batches already accepted are not validated again (a batch the
gate failed is validated again, e.g. once the region master knows a new desa), and dbt
rebuilds staging from accepted batches only.

Unlike the region master, one bad regency file does not hold back the others: the gate
validates every batch, staging is built from the accepted ones (a regency whose new file
failed keeps its previous submission), and the last task fails the run naming every file
that was rejected or failed the gate.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from psycopg import sql

from lumbung.config import Paths, PgUrl
from lumbung.dbt_runner import run_dbt
from lumbung.families import family
from lumbung.landing import BatchOutcome, land_file
from lumbung.pipelines.batches import (
    counts,
    land_all,
    land_folder,
    log_problems,
    validate_all,
    verdict,
)
from lumbung.sources import apbdes

log = logging.getLogger(__name__)

# The staging folder by its fqn: the same nodes as path:models/staging/apbdes, resolved
# faster (see lumbung.rebuild_plan).
DBT_SELECT = ("ref_apbdes_accounts", "fqn:staging.apbdes")
PUBLISHED = family("apbdes").published


def land(
    warehouse: PgUrl, landing: Path, dag_id: str | None = None, run_id: str | None = None
) -> dict:
    """Land every APBDes file of the landing folder; one batch per file."""
    files, problems = apbdes.discover(landing)
    log_problems(problems)
    if not files:
        log.info("no APBDes files under %s", landing / apbdes.FOLDER)
    with psycopg.connect(warehouse.url()) as conn:
        outcomes = land_all(warehouse, landing, files, None, dag_id, run_id, conn)
        if any(not o.already_landed and o.status == "loaded" for o in outcomes):
            _analyze(conn)
    return {"batches": [o.to_dict() for o in outcomes], "problems": problems}


def _analyze(conn: psycopg.Connection) -> None:
    """Fresh planner statistics for the raw tables just filled: the gate's and staging's
    joins over a new batch are planned from them (stale or missing statistics made one
    gate run of a regency's export take seconds instead of a fraction of one)."""
    tables = [t.raw_table for t in (*apbdes.SISKEUDES_TABLES, apbdes.FLAT_TABLE)]
    with conn.transaction():
        for table in tables:
            conn.execute(sql.SQL("analyze {}").format(sql.Identifier("raw", table)))


def ingest_path(warehouse: PgUrl, path: Path) -> list[BatchOutcome]:
    """Land one APBDes file (inside its ``<year>`` folder) or a landing folder."""
    if path.is_dir():
        return land_folder(land, warehouse, path, apbdes.FOLDER)
    item = apbdes.landing_file(path)
    with psycopg.connect(warehouse.url()) as conn:
        outcome = land_file(conn, item.spec, item.path, item.partition_key,
                            reader=item.reader, display_path=str(path))
        if not outcome.already_landed and outcome.status == "loaded":
            _analyze(conn)
        return [outcome]


def gate(warehouse: PgUrl, landed: dict) -> dict:
    """Validate every landed batch not yet accepted, each dataset's batches in one checkpoint
    run. Failures are collected, not raised: staging is still built from the accepted
    batches, and ``check`` fails the run."""
    return validate_all(warehouse, landed, together=True)


def transform(paths: Paths, warehouse: PgUrl) -> None:
    """Build the APBDes staging models and the chart of accounts (dbt build with tests):
    this source's staging alone (tests, maintenance); in production the marts DAG builds
    it with what it feeds."""
    run_dbt(paths, warehouse, "build", "--select", *DBT_SELECT)


def check(gated: dict) -> dict:
    """Fail the run if any file was rejected or failed the gate (after staging was built)."""
    return verdict(gated, "their regencies keep their previous submission in staging")


def published_counts(warehouse: PgUrl, tables: tuple[str, ...] = PUBLISHED) -> dict[str, int]:
    return counts(warehouse, tables)
