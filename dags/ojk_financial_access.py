"""OJK financial access reports -> raw -> quality gate -> released to dbt.

The gate ends by releasing every batch it accepted to dbt at once (``lumbung.visibility``);
the staging models are built, with their tests, by ``smart_village_marts``, which
``announce_release`` triggers through this DAG's Assets (skipped when nothing new was
released).

The monthly access report (XLSX: Laku Pandai agents per village and bank, bank offices and
ATMs per district and bank) arrives under ``landing/ojk/akses/periode=<yyyy-mm>/``, the
quarterly KUR report per district under ``landing/ojk/kur/triwulan=<yyyy>-Q<n>/``. One batch
per file (an access report fills two raw tables); rows that cannot be used are quarantined.
Feeds ``stg_ojk__access_points`` and ``stg_ojk__kur_district_quarter``. Thin on
purpose: each task calls one function of ``lumbung.pipelines.ojk``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, task

STG_OJK_ACCESS_POINTS = Asset("lumbung://warehouse/staging/stg_ojk__access_points")
STG_OJK_KUR = Asset("lumbung://warehouse/staging/stg_ojk__kur_district_quarter")


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
    dag_id="ojk_financial_access",
    schedule="@monthly",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["lumbung", "economy", "ojk"],
    default_args={"owner": "lumbung-data-engineering", "retries": 1,
                  "retry_delay": timedelta(minutes=5),
                  "on_failure_callback": _on_failure},
    on_failure_callback=_on_run_failure,
    doc_md=__doc__,
)
def ojk_financial_access():
    @task(retries=0)
    def bootstrap_warehouse() -> None:
        """Create schemas, audit and raw tables if missing."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.config import Paths
        from lumbung.warehouse import bootstrap

        bootstrap(Paths.from_env(), warehouse_from_connection())

    @task
    def land_ojk_reports(**context) -> dict:
        """Land each access report and each KUR report as one batch."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.config import Paths
        from lumbung.pipelines.ojk import land

        return land(warehouse_from_connection(), Paths.from_env().landing,
                    dag_id=context["dag"].dag_id, run_id=context["run_id"])

    @task(retries=0, on_success_callback=_alert_gate_warnings)
    def quality_gate(landed: dict) -> dict:
        """Great Expectations checkpoint per batch; a rejected or failed file stops the run."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.pipelines.ojk import gate

        return gate(warehouse_from_connection(), landed)

    @task(retries=0, outlets=[STG_OJK_ACCESS_POINTS, STG_OJK_KUR])
    def announce_release(gated: dict) -> dict:
        """Update the Assets (the marts DAG builds this source's staging and what it
        feeds); skipped when the gate released nothing new to dbt."""
        from lumbung.airflow_tasks import announce_release as announce

        return announce(gated)

    landed = land_ojk_reports()
    bootstrap_warehouse() >> landed
    announce_release(quality_gate(landed))


ojk_financial_access()
