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

from airflow.sdk import AssetAny, task

from lumbung.assets import INDICATOR_MARTS, SOURCES
from lumbung.dag_factory import (
    audit_marts,
    lumbung_dag,
    publish_marts,
    report_published,
    wait_for_region_master,
)


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


with lumbung_dag("smart_village_marts", __doc__, schedule=AssetAny(*SOURCES),
                 tags=["lumbung", "marts", "smart-village"]) as dag:
    built = build_marts()
    wait_for_region_master(
        "Wait until the region marts are published with every region batch released: the "
        "marts read ``dim_village``, so on a first start they wait for the region DAG."
    ) >> built
    published = publish_marts(audit_marts(built), [INDICATOR_MARTS])
    published >> report_published("marts", "Row counts of every published mart, for the run log.")
    published >> quality_report()
