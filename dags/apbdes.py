"""APBDes (village budgets and realisation) -> raw -> quality gate -> released to dbt.

The gate ends by releasing every batch it accepted to dbt at once (``lumbung.visibility``);
the staging models are built, with their tests, by ``smart_village_marts``, which
``announce_release`` triggers through this DAG's Assets (skipped when nothing new was
released).

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

    @task(retries=0, outlets=[STAGING_APBDES])
    def announce_release(gated: dict) -> dict:
        """Update the Assets (the marts DAG builds this source's staging and what it
        feeds); skipped when the gate released nothing new to dbt."""
        from lumbung.airflow_tasks import announce_release as announce

        return announce(gated)

    @task(retries=0, trigger_rule="none_failed")
    def check_files(gated: dict) -> dict:
        """Fail the run if any file was rejected or failed the gate, naming each."""
        from lumbung.pipelines.apbdes import check

        return check(gated)

    @task.sensor(poke_interval=15, timeout=6 * 3600, mode="reschedule")
    def wait_for_region_master() -> bool:
        """Wait until the region marts are published with every region batch released (the
        gate checks each desa code against ``marts.dim_village``): on a first start the
        region master runs first, without failing and retrying here."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.pipelines.village_master import region_master_ready

        return region_master_ready(warehouse_from_connection())

    landed = land_apbdes_files()
    [bootstrap_warehouse(), wait_for_region_master()] >> landed
    gated = quality_gate(landed)
    announce_release(gated) >> check_files(gated)


apbdes()
