"""Kemendagri region master -> raw -> quality gate -> dbt marts ``dim_region``, ``dim_village``.

Thin on purpose: each task calls one function of ``lumbung.pipelines.village_master``.
"""

from __future__ import annotations

from airflow.sdk import task

from lumbung.assets import REGION
from lumbung.dag_factory import (
    audit_marts,
    bootstrap_warehouse,
    land,
    lumbung_dag,
    publish_marts,
    quality_gate,
    report_published,
)


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


with lumbung_dag("village_master", __doc__, schedule="@daily",
                 tags=["lumbung", "village", "kemendagri"]) as dag:
    landed = land("village_master", "land_region_files", "Land each file under "
                  "landing/region/edition=<year>/ as one batch (streaming COPY).")
    bootstrap_warehouse() >> landed
    gated = quality_gate(landed, "village_master", "Great Expectations checkpoint per batch; "
                         "a critical failure stops the run here.")
    published = publish_marts(audit_marts(build_marts(gated)), REGION)
    published >> report_published("village_master",
                                  "Row counts of what was published, for the run log.")
