"""Staging -> Smart Village indicator marts, by write-audit-publish.

Runs whenever a source DAG has refreshed what the marts read (Airflow Assets: the region
marts, IDM, survey, APBDes, BUMDes and OJK staging), so the marts follow the sources
without a clock of their own. dbt builds what the changed sources feed, with its tests
(``lumbung.rebuild_plan``: everything the first time or after a change of the dbt project),
into the build schema ``marts_build`` (BI users cannot read it); the marts are audited
there, and only when that audit passes are the tables copied into
``marts`` in one transaction. A failed audit publishes nothing: the previous good version
stays published. Then the quality report and regency workbooks are written, even after a
failed build.

Thin on purpose: each task calls one function of ``lumbung.pipelines.marts``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, task

# The source DAGs' outlets (same URIs = same assets).
SOURCES = (
    Asset("lumbung://warehouse/marts/dim_region"),
    Asset("lumbung://warehouse/marts/dim_village"),
    Asset("lumbung://warehouse/staging/stg_idm__indicator_scores"),
    Asset("lumbung://warehouse/staging/stg_idm__published_index"),
    Asset("lumbung://warehouse/staging/stg_survey__responses"),
    Asset("lumbung://warehouse/staging/apbdes"),
    Asset("lumbung://warehouse/staging/stg_bumdes__registry"),
    Asset("lumbung://warehouse/staging/stg_bumdes__units"),
    Asset("lumbung://warehouse/staging/stg_bumdes__annual_reports"),
    Asset("lumbung://warehouse/staging/stg_ojk__access_points"),
    Asset("lumbung://warehouse/staging/stg_ojk__kur_district_quarter"),
)
INDICATOR_MARTS = Asset("lumbung://warehouse/marts/indicators")


def _any(assets: tuple[Asset, ...]):
    condition = assets[0]
    for asset in assets[1:]:
        condition = condition | asset
    return condition


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


@dag(
    dag_id="smart_village_marts",
    schedule=_any(SOURCES),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["lumbung", "marts", "smart-village"],
    default_args={"owner": "lumbung-data-engineering", "retries": 1,
                  "retry_delay": timedelta(minutes=5),
                  "on_failure_callback": _on_failure},
    on_failure_callback=_on_run_failure,
    doc_md=__doc__,
)
def smart_village_marts():
    @task.sensor(poke_interval=15, timeout=6 * 3600, mode="reschedule")
    def wait_for_region_master() -> bool:
        """Wait until the region marts are published with every region batch released: the
        marts read ``dim_village``, so on a first start they wait for village_master."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.pipelines.village_master import region_master_ready

        return region_master_ready(warehouse_from_connection())

    @task(retries=0, pool="lumbung_dbt")
    def build_marts(**context) -> list[str]:
        """dbt build (models, seeds, tests) into the build schema of what the sources changed
        since the last published build feed (everything the first time, or after the dbt
        project changed; ``{"everything": true}`` as run conf forces it); a failing test
        stops the run before publishing."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.config import Paths
        from lumbung.pipelines.marts import transform

        conf = getattr(context.get("dag_run"), "conf", None) or {}
        return transform(Paths.from_env(), warehouse_from_connection(),
                         dag_id=context["dag"].dag_id, run_id=context["run_id"],
                         everything=bool(conf.get("everything")))

    @task(retries=0)
    def audit_marts(tables: list[str], **context) -> list[str]:
        """Great Expectations suite of every built mart, in the build schema: a critical
        failure stops the run here, before anything is published."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.pipelines.marts import audit

        audit(warehouse_from_connection(), tables,
              dag_id=context["dag"].dag_id, run_id=context["run_id"])
        return tables

    @task(retries=0, outlets=[INDICATOR_MARTS])
    def publish_marts(tables: list[str], **context) -> dict:
        """Copy the audited marts into ``marts`` in one transaction."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.pipelines.marts import publish_marts as publish

        return publish(warehouse_from_connection(), tables,
                       dag_id=context["dag"].dag_id, run_id=context["run_id"])

    @task
    def report_published() -> dict:
        """Row counts of every published mart, for the run log."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.pipelines.marts import published_counts

        return published_counts(warehouse_from_connection())

    @task(retries=0, trigger_rule="all_done")
    def quality_report() -> dict:
        """The auditor outputs: the quality report (HTML) and one workbook per regency with
        something to fix. Written whether or not the build passed (a failed build is when
        auditors need it most); the run still fails with the build, through the other
        leaf, report_published."""
        from lumbung.airflow_tasks import warehouse_from_connection
        from lumbung.config import Paths
        from lumbung.pipelines.marts import quality_report as write

        return write(Paths.from_env(), warehouse_from_connection())

    built = build_marts()
    wait_for_region_master() >> built
    published = publish_marts(audit_marts(built))
    published >> report_published()
    published >> quality_report()


smart_village_marts()
