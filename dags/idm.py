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
every rejected or failed file. Needs ``marts.dim_village`` (DAG ``region``).

Thin on purpose: each task calls one function of ``lumbung.pipelines.idm``.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param, task

from lumbung.dag_factory import source_dag


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
    years = [int(y) for y in params.get("years") or []] or [(start or datetime.now()).year]
    fetched = fetch(warehouse_from_connection(), Paths.from_env().landing, years,
                    [str(r) for r in params.get("regencies") or []])
    if fetched is None:
        raise AirflowSkipException("connection kemendesa_idm_api is not configured")
    return fetched


@task(retries=0, trigger_rule="none_failed")
def gate_verdict(gated: dict) -> dict:
    """Fail the run if any file was rejected or failed the gate (naming each); the
    accepted files are released to dbt regardless."""
    from lumbung.pipelines.idm import verdict

    verdict(gated)
    return gated


dag: DAG = source_dag(
    "idm", __doc__,
    params={
        "years": Param([], type="array", description="years to fetch from the API "
                       "(empty: the year of the run's data interval)"),
        "regencies": Param([], type="array", description="4-digit regency codes to fetch "
                           "(empty: all)"),
    },
    gate_doc="One Great Expectations run over every new batch; each verdict is recorded.",
    before_land=fetch_from_api,
    verdict=gate_verdict,
)
