"""BUMDes registry pages and yearly reports -> raw -> quality gate -> released to dbt.

The gate ends by releasing every batch it accepted to dbt at once (``lumbung.visibility``);
the staging models are built, with their tests, by ``smart_village_marts``, which
``announce_release`` triggers through this DAG's Assets (skipped when nothing new was
released).

The Kemendesa BUMDes registry arrives as paged JSON (one file per API page) under
``landing/bumdes/registry/snapshot=<date>/``, the yearly BUMDes reports (capital, village
capital participation, assets, turnover, profit, PADes contribution, ranking class) as CSV
or XLSX per regency under ``landing/bumdes/laporan/tahun=<year>/``. One batch per file; items
and rows that cannot be used are quarantined. Publishes ``stg_bumdes__registry``,
``stg_bumdes__units`` and ``stg_bumdes__annual_reports``. Thin on purpose: each task calls
one function of ``lumbung.pipelines.bumdes``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, task

STG_BUMDES_REGISTRY = Asset("lumbung://warehouse/staging/stg_bumdes__registry")
STG_BUMDES_UNITS = Asset("lumbung://warehouse/staging/stg_bumdes__units")
STG_BUMDES_ANNUAL_REPORTS = Asset("lumbung://warehouse/staging/stg_bumdes__annual_reports")


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
    dag_id="bumdes",
    schedule="@quarterly",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["lumbung", "economy", "bumdes"],
    default_args={"owner": "lumbung-data-engineering", "retries": 1,
                  "retry_delay": timedelta(minutes=5),
                  "on_failure_callback": _on_failure},
    on_failure_callback=_on_run_failure,
    doc_md=__doc__,
)
def bumdes():
    @task(retries=0)
    def bootstrap_warehouse() -> None:
        """Create schemas, audit and raw tables if missing."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.config import Paths
        from lumbung.warehouse import bootstrap

        bootstrap(Paths.from_env(), warehouse_from_connection())

    @task
    def land_bumdes_files(**context) -> dict:
        """Land each registry page and each yearly report as one batch."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.config import Paths
        from lumbung.pipelines.bumdes import land

        return land(warehouse_from_connection(), Paths.from_env().landing,
                    dag_id=context["dag"].dag_id, run_id=context["run_id"])

    @task(retries=0, on_success_callback=_alert_gate_warnings)
    def quality_gate(landed: dict) -> dict:
        """Great Expectations checkpoint per batch; a rejected or failed file stops the run."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.pipelines.bumdes import gate

        return gate(warehouse_from_connection(), landed)

    @task(retries=0, outlets=[STG_BUMDES_REGISTRY, STG_BUMDES_UNITS, STG_BUMDES_ANNUAL_REPORTS])
    def announce_release(gated: dict) -> dict:
        """Update the Assets (the marts DAG builds this source's staging and what it
        feeds); skipped when the gate released nothing new to dbt."""
        from lumbung.airflow_tasks import announce_release as announce

        return announce(gated)

    landed = land_bumdes_files()
    bootstrap_warehouse() >> landed
    announce_release(quality_gate(landed))


bumdes()
