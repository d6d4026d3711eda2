"""Kemendagri region master -> raw -> quality gate -> dbt marts ``dim_region``, ``dim_village``.

Thin on purpose: each task calls one function of ``lumbung.pipelines.village_master``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, task

DIM_REGION = Asset("lumbung://warehouse/marts/dim_region")
DIM_VILLAGE = Asset("lumbung://warehouse/marts/dim_village")


def _on_failure(context) -> None:
    """Record the failed task in audit.failed_runs and alert (lumbung.alerts); imported
    here, not at the top, so parsing the DAG stays light."""
    from lumbung.alerts import on_task_failure

    on_task_failure(context)


def _on_run_failure(context) -> None:
    """Record and alert the task that failed the run when its own callback never ran (its
    process was killed); see lumbung.alerts.on_dag_failure."""
    from lumbung.alerts import on_dag_failure

    on_dag_failure(context)


def _alert_gate_warnings(context) -> None:
    """Alert the warnings of the batches that passed the gate in this run, if any."""
    from lumbung.alerts import on_gate_success

    on_gate_success(context)


@dag(
    dag_id="village_master",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["lumbung", "village", "kemendagri"],
    default_args={"owner": "lumbung-data-engineering", "retries": 1,
                  "retry_delay": timedelta(minutes=5),
                  "on_failure_callback": _on_failure},
    on_failure_callback=_on_run_failure,
    doc_md=__doc__,
)
def village_master():
    @task(retries=0)
    def bootstrap_warehouse() -> None:
        """Create schemas, audit tables and the BI role if missing."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.config import Paths
        from lumbung.warehouse import bootstrap

        bootstrap(Paths.from_env(), warehouse_from_connection())

    @task
    def land_region_files(**context) -> dict:
        """Land each file under landing/region/edition=<year>/ as one batch (streaming COPY)."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.config import Paths
        from lumbung.pipelines.village_master import land

        return land(warehouse_from_connection(), Paths.from_env().landing,
                    dag_id=context["dag"].dag_id, run_id=context["run_id"])

    @task(retries=0, on_success_callback=_alert_gate_warnings)
    def quality_gate(landed: dict) -> dict:
        """Great Expectations checkpoint per batch; a critical failure stops the run here."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.pipelines.village_master import gate

        return gate(warehouse_from_connection(), landed)

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

    @task(retries=0)
    def audit_marts(tables: list[str], **context) -> list[str]:
        """Great Expectations suite of every built mart, in the build schema: a critical
        failure stops the run here, before anything is published."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.pipelines.marts import audit

        audit(warehouse_from_connection(), tables,
              dag_id=context["dag"].dag_id, run_id=context["run_id"])
        return tables

    @task(retries=0, outlets=[DIM_REGION, DIM_VILLAGE])
    def publish_marts(tables: list[str], **context) -> dict:
        """Copy the audited marts into ``marts`` in one transaction."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.pipelines.marts import publish_marts as publish

        return publish(warehouse_from_connection(), tables,
                       dag_id=context["dag"].dag_id, run_id=context["run_id"])

    @task
    def report_published() -> dict:
        """Row counts of what was published, for the run log."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.pipelines.village_master import published_counts

        return published_counts(warehouse_from_connection())

    landed = land_region_files()
    bootstrap_warehouse() >> landed
    built = build_marts(quality_gate(landed))
    publish_marts(audit_marts(built)) >> report_published()


village_master()
