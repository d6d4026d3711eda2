"""The indicator marts pipeline: build every mart from staging, audit it, publish it.

Each function is one task of the ``smart_village_marts`` DAG, which runs whenever a source
DAG has refreshed its staging models (Airflow Assets). dbt builds the intermediate models
and the marts (with their tests and the seeds they use: the indicator catalogue) into the
build schema; only audited tables are published into ``marts``, in one transaction
(``lumbung.publish``). The region marts ``dim_region`` / ``dim_village`` are published by the
``region`` DAG and are not rebuilt here.
"""

from __future__ import annotations

import logging

import psycopg

from lumbung.config import Paths, PgUrl
from lumbung.db import count_rows
from lumbung.publish import PUBLISHED_SCHEMA, build, publish

log = logging.getLogger(__name__)

def transform(
    paths: Paths,
    warehouse: PgUrl,
    dag_id: str | None = None,
    run_id: str | None = None,
    everything: bool = False,
) -> list[str]:
    """dbt build into the build schema of what the changed sources feed (``lumbung.rebuild_plan``:
    everything on the first build, after a change of the dbt project, or when asked);
    returns the mart tables built (dbt's tests on them passed, or this raised)."""
    from lumbung.rebuild_plan import plan, record_build

    chosen = plan(paths, warehouse, everything=everything)
    log.info("marts build: %s", chosen.reason)
    # A selective build's project is the one a whole build wrote the manifest for, and
    # rewriting it (3 MB, twice) takes about a second of such a build.
    tables = build(paths, warehouse, *chosen.selection(), manifest=chosen.changed is None,
                   pin=chosen.pin, tested_after=chosen.tested_after)
    build_id = record_build(warehouse, chosen, dag_id, run_id)
    log.info("marts build %d (%s): built %s", build_id, chosen.rebuilt, ", ".join(tables))
    return tables


def audit(
    warehouse: PgUrl, tables: list[str], dag_id: str | None = None, run_id: str | None = None
) -> dict:
    """Each built mart's suite in the build schema (``lumbung.quality.gate.audit_marts``): a
    critical failure raises GateFailed and nothing is published; warnings are returned."""
    from lumbung.quality.gate import audit_marts

    results = audit_marts(warehouse.url(), tables, dag_id=dag_id, run_id=run_id)
    return {
        "audited": [r.dataset for r in results],
        "warnings": [w.describe() for r in results for w in r.warnings],
    }


def publish_marts(
    warehouse: PgUrl, tables: list[str], dag_id: str | None = None, run_id: str | None = None
) -> dict:
    """Publish the audited marts into ``marts`` in one transaction; the run's marts build
    becomes the one the next build starts from."""
    from lumbung.rebuild_plan import mark_published

    if not tables:
        log.warning("no mart was built: nothing to publish")
        return {"publication_id": None, "tables": {}}
    published = publish(warehouse, tables, dag_id=dag_id, run_id=run_id)
    mark_published(warehouse, published.publication_id, dag_id, run_id)
    return {**published.to_dict(), "release": release(warehouse)}


def release(warehouse: PgUrl) -> str | None:
    """The open data release of what was just published; returns its folder. The
    publication stands whatever happens here (``lumbung release`` writes it again), so a
    release that cannot be written is logged as an error, not raised."""
    from lumbung.opendata.release import write_release

    try:
        written = write_release(Paths.from_env(), warehouse)
    except Exception:
        log.exception("the open data release could not be written; "
                      "`lumbung release` writes it again")
        return None
    log.info("%s", written.describe())
    return str(written.folder)


def published_counts(warehouse: PgUrl) -> dict[str, int]:
    with psycopg.connect(warehouse.url()) as conn:
        tables = [
            r[0] for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = %s "
                "order by table_name", (PUBLISHED_SCHEMA,))
        ]
        return {f"{PUBLISHED_SCHEMA}.{t}": count_rows(conn, f"{PUBLISHED_SCHEMA}.{t}")
                for t in tables}


def quality_report(paths: Paths, warehouse: PgUrl) -> dict:
    """The auditor outputs (quality report and regency workbooks) after the marts' build,
    whatever its outcome; returns where they are."""
    from lumbung.reports import produce

    output = produce(paths, warehouse)
    return {"report": str(output.report), "workbooks": str(output.workbooks),
            "regencies": sorted(output.workbook_files)}
