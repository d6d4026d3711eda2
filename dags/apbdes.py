"""APBDes (village budgets and realisation) -> raw -> quality gate -> dbt staging.

Regencies deliver one file per fiscal year under ``landing/apbdes/<year>/``: their Siskeudes
export (``siskeudes_<regency>_<year>.zip``, one batch filling every Siskeudes table) or the
flat template (``apbdes_<regency>_<year>.csv|xlsx``), and resubmit corrected files during
the year (``..._rev1``), hence the daily schedule; unchanged files load nothing.

Staging (``stg_apbdes__budget_lines``, ``stg_apbdes__realisation_lines``) uses the latest
accepted submission of each regency and year. One regency's bad file does not hold back the
others: staging is built from the accepted files, then ``check_files`` fails the run naming
every file that was rejected or stopped by the gate (that regency keeps its previous
submission). Needs the region master (``village_master``): the gate checks every desa code
against ``marts.dim_village``.

Thin on purpose: each task calls one function of ``lumbung.pipelines.apbdes``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, task

STAGING_APBDES = Asset("lumbung://warehouse/staging/apbdes")


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
    dag_id="apbdes",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["lumbung", "apbdes", "siskeudes"],
    default_args={"owner": "lumbung-data-engineering", "retries": 1,
                  "retry_delay": timedelta(minutes=5),
                  "on_failure_callback": _on_failure},
    on_failure_callback=_on_run_failure,
    doc_md=__doc__,
)
def apbdes():
    @task(retries=0)
    def bootstrap_warehouse() -> None:
        """Create schemas, audit and raw tables and gate views if missing."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.config import Paths
        from lumbung.warehouse import bootstrap

        bootstrap(Paths.from_env(), warehouse_from_connection())

    @task
    def land_apbdes_files(**context) -> dict:
        """Land each file under landing/apbdes/<year>/ as one batch (zip members streamed)."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.config import Paths
        from lumbung.pipelines.apbdes import land

        return land(warehouse_from_connection(), Paths.from_env().landing,
                    dag_id=context["dag"].dag_id, run_id=context["run_id"])

    @task(retries=0, on_success_callback=_alert_gate_warnings)
    def quality_gate(landed: dict) -> dict:
        """Great Expectations checkpoint per batch; failures are reported by check_files."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.pipelines.apbdes import gate

        return gate(warehouse_from_connection(), landed)

    @task(outlets=[STAGING_APBDES])
    def build_staging() -> None:
        """dbt build of the chart of accounts and the APBDes staging models, with tests."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.config import Paths
        from lumbung.pipelines.apbdes import transform

        transform(Paths.from_env(), warehouse_from_connection())

    @task(retries=0)
    def check_files(gated: dict) -> dict:
        """Fail the run if any file was rejected or failed the gate, naming each."""
        from lumbung.pipelines.apbdes import check

        return check(gated)

    @task
    def report_published() -> dict:
        """Row counts of the APBDes staging models, for the run log."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.pipelines.apbdes import published_counts

        return published_counts(warehouse_from_connection())

    landed = land_apbdes_files()
    bootstrap_warehouse() >> landed
    gated = quality_gate(landed)
    staged = build_staging()
    gated >> staged
    staged >> check_files(gated)
    staged >> report_published()


apbdes()
