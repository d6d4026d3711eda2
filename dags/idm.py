"""IDM (Indeks Desa Membangun, Kemendesa) -> raw -> quality gate -> released to dbt.

The gate ends by releasing every batch it accepted to dbt at once (``lumbung.visibility``);
the staging models are built, with their tests, by ``smart_village_marts``, which
``announce_release`` triggers through this DAG's Assets (skipped when nothing new was
released).

One JSON response per desa and year under ``landing/idm/tahun=<year>/<kode_desa>.json``.
When the Airflow connection ``kemendesa_idm_api`` (type http, host = the API's base URL) is
configured, the run first fetches the responses of its year (or of the ``years`` param) for
every current desa from ``/open/api/desa/rumusan/<kode_desa>/<tahun>``; otherwise it lands
what is in the landing folder. Every file is one batch; all new batches are gated in one
Great Expectations run; staging shows the accepted ones; the run fails at the end naming
every rejected or failed file. Needs ``marts.dim_village`` (DAG ``village_master``).

Thin on purpose: each task calls one function of ``lumbung.pipelines.idm``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, Param, dag, task

IDM_INDICATOR_SCORES = Asset("lumbung://warehouse/staging/stg_idm__indicator_scores")
IDM_PUBLISHED_INDEX = Asset("lumbung://warehouse/staging/stg_idm__published_index")


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
    dag_id="idm",
    schedule="@yearly",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["lumbung", "village", "idm", "kemendesa"],
    default_args={"owner": "lumbung-data-engineering", "retries": 1,
                  "retry_delay": timedelta(minutes=5),
                  "on_failure_callback": _on_failure},
    on_failure_callback=_on_run_failure,
    params={
        "years": Param([], type="array", description="years to fetch from the API "
                       "(empty: the year of the run's data interval)"),
        "regencies": Param([], type="array", description="4-digit regency codes to fetch "
                           "(empty: all)"),
    },
    doc_md=__doc__,
)
def idm():
    @task(retries=0)
    def bootstrap_warehouse() -> None:
        """Create schemas, audit and raw tables and the gate views if missing."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.config import Paths
        from lumbung.warehouse import bootstrap

        bootstrap(Paths.from_env(), warehouse_from_connection())

    @task
    def fetch_from_api(**context) -> dict:
        """Download the year's responses into the landing folder; skipped without the
        kemendesa_idm_api connection."""
        from airflow.sdk.exceptions import AirflowSkipException

        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.config import Paths
        from lumbung.pipelines.idm import fetch

        params = context["params"]
        start = context.get("data_interval_start") or context.get("logical_date")
        years = [int(y) for y in params.get("years") or []] or [
            (start or datetime.now()).year
        ]
        fetched = fetch(warehouse_from_connection(), Paths.from_env().landing, years,
                        [str(r) for r in params.get("regencies") or []])
        if fetched is None:
            raise AirflowSkipException("connection kemendesa_idm_api is not configured")
        return fetched

    @task(trigger_rule="none_failed")
    def land_idm_files(**context) -> dict:
        """Land each file under landing/idm/tahun=<year>/ as one batch."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.config import Paths
        from lumbung.pipelines.idm import land

        return land(warehouse_from_connection(), Paths.from_env().landing,
                    dag_id=context["dag"].dag_id, run_id=context["run_id"])

    @task(retries=0, on_success_callback=_alert_gate_warnings)
    def quality_gate(landed: dict) -> dict:
        """One Great Expectations run over every new batch; each verdict is recorded."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.pipelines.idm import gate

        return gate(warehouse_from_connection(), landed)

    @task(retries=0, outlets=[IDM_INDICATOR_SCORES, IDM_PUBLISHED_INDEX])
    def announce_release(gated: dict) -> dict:
        """Update the Assets (the marts DAG builds the IDM staging and what it feeds);
        skipped when the gate released nothing new to dbt."""
        from lumbung.airflow_tasks import announce_release as announce

        return announce(gated)

    @task(retries=0, trigger_rule="none_failed")
    def gate_verdict(gated: dict) -> dict:
        """Fail the run if any file was rejected or failed the gate (naming each); the
        accepted files are released to dbt regardless."""
        from lumbung.pipelines.idm import verdict

        verdict(gated)
        return gated

    landed = land_idm_files()
    bootstrap_warehouse() >> fetch_from_api() >> landed
    gated = quality_gate(landed)
    announce_release(gated) >> gate_verdict(gated)


idm()
