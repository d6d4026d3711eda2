"""Kemendagri region master -> raw -> quality gate -> dbt marts ``dim_region``, ``dim_village``.

Thin on purpose: each task calls one function of ``lumbung.pipelines.village_master``.
"""

from __future__ import annotations

from airflow.sdk import task

from lumbung.assets import BY_DAG
from lumbung.dag_factory import (
    audit_marts,
    bootstrap_warehouse,
    land,
    lumbung_dag,
    publish_marts,
    quality_gate,
    report_published,
)
from lumbung.families import family

REGION = family("region")


@task(pool="lumbung_dbt")
def build_marts(gated: dict) -> list[str]:
    """dbt build of the region staging models and marts, with their tests, into the
    build schema (BI users cannot see it); skipped when the gate released nothing new
    and the region marts are published. One dbt build at a time (pool lumbung_dbt)."""
    from airflow.sdk.exceptions import AirflowSkipException

    from lumbung.airflow_tasks import warehouse_from_connection
    from lumbung.config import Paths
    from lumbung.pipelines.village_master import region_master_ready, transform

    warehouse = warehouse_from_connection()
    if not gated.get("released") and region_master_ready(warehouse):
        raise AirflowSkipException("no new region file: the region marts are up to date")
    return transform(Paths.from_env(), warehouse)


with lumbung_dag(REGION.name, __doc__, schedule=REGION.schedule, tags=REGION.tags) as dag:
    landed = land(REGION.pipeline, REGION.land_task, REGION.land_doc)
    bootstrap_warehouse() >> landed
    gated = quality_gate(landed, REGION.pipeline, "Great Expectations checkpoint per batch; "
                         "a critical failure stops the run here.")
    published = publish_marts(audit_marts(build_marts(gated)), BY_DAG[REGION.name])
    published >> report_published(REGION.pipeline,
                                  "Row counts of what was published, for the run log.")
