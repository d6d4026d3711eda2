"""The DAGs' shared parts: project defaults, callbacks, tasks, and the source DAG shape
``bootstrap_warehouse -> land -> quality_gate -> announce_release``.

Imports only ``airflow.sdk``, the stdlib and the families' declarations (``lumbung.assets``,
``lumbung.families``): DAG files import it at parse time, so parsing stays light. Each task
imports what it needs (``lumbung.pipelines.<pipeline>`` and the like) in its body, when it
runs. The task builders are called inside a DAG's context.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from airflow.sdk import DAG, Asset, task

from lumbung.assets import BY_DAG
from lumbung.families import FAIL_AT_END, family

OWNER = "lumbung-data-engineering"
GATE_DOC = "Great Expectations checkpoint per batch; a rejected or failed file stops the run."


def on_task_failure(context) -> None:
    """Record the failed task in audit.failed_runs and alert (lumbung.alerts)."""
    from lumbung.alerts import on_task_failure as record

    record(context)


def on_dag_failure(context) -> None:
    """Record and alert the task that failed the run when its own callback never ran (its
    process was killed); see lumbung.alerts.on_dag_failure."""
    from lumbung.alerts import on_dag_failure as record

    record(context)


def on_gate_success(context) -> None:
    """Alert the warnings of the batches that passed the gate in this run, if any."""
    from lumbung.alerts import on_gate_success as alert

    alert(context)


def _caller_file() -> str:
    """The file that called into this module (the DAG file), as the DAG's fileloc."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    return frame.f_code.co_filename if frame is not None else ""


def lumbung_dag(dag_id: str, doc_md: str | None, *, schedule: Any, tags: Sequence[str],
                params: Mapping[str, Any] | None = None) -> DAG:
    """A DAG with the project's defaults: no catch-up, one run at a time, one retry after
    five minutes, failures recorded and alerted (``lumbung.alerts``)."""
    dag = DAG(
        dag_id,
        schedule=schedule,
        start_date=datetime(2025, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=list(tags),
        default_args={"owner": OWNER, "retries": 1, "retry_delay": timedelta(minutes=5),
                      "on_failure_callback": on_task_failure},
        on_failure_callback=on_dag_failure,
        params=dict(params or {}),
        doc_md=doc_md,
    )
    dag.fileloc = _caller_file()
    return dag


def _warehouse():
    from lumbung.airflow_tasks import warehouse_from_connection

    return warehouse_from_connection()


def _pipeline(name: str):
    return import_module(f"lumbung.pipelines.{name}")


def _run_ids(context) -> dict[str, str]:
    return {"dag_id": context["dag"].dag_id, "run_id": context["run_id"]}


@task(retries=0)
def bootstrap_warehouse() -> None:
    """Create the schemas, audit and raw tables, gate views and roles if missing."""
    from lumbung.config import Paths
    from lumbung.warehouse import bootstrap

    bootstrap(Paths.from_env(), _warehouse())


@task
def _land(pipeline: str, **context) -> dict:
    from lumbung.config import Paths
    from lumbung.pipelines.batches import for_xcom

    landed = _pipeline(pipeline).land(_warehouse(), Paths.from_env().landing, **_run_ids(context))
    return for_xcom(landed)


def land(pipeline: str, task_id: str, doc: str, *, trigger_rule: str = "all_success"):
    """Land each new file of ``pipeline``'s landing folder as one batch."""
    return _land.override(task_id=task_id, doc_md=doc, trigger_rule=trigger_rule)(pipeline)


@task(retries=0, on_success_callback=on_gate_success)
def _quality_gate(landed: dict, pipeline: str) -> dict:
    return _pipeline(pipeline).gate(_warehouse(), landed)


def quality_gate(landed, pipeline: str, doc: str = GATE_DOC):
    """Gate what was landed (``<pipeline>.gate``); passing batches' warnings are alerted."""
    return _quality_gate.override(task_id="quality_gate", doc_md=doc)(landed, pipeline)


@task(retries=0)
def _announce_release(gated: dict) -> dict:
    """Update the Assets (the marts DAG builds this source's staging and what it
    feeds); skipped when the gate released nothing new to dbt."""
    from lumbung.airflow_tasks import announce_release as announce

    return announce(gated)


def announce_release(gated, outlets: Sequence[Asset]):
    """The only task of a source DAG that updates its Assets."""
    return _announce_release.override(task_id="announce_release", outlets=list(outlets))(gated)


@task.sensor(poke_interval=15, timeout=6 * 3600, mode="reschedule")
def _wait_for_region_master() -> bool:
    from lumbung.pipelines.village_master import region_master_ready

    return region_master_ready(_warehouse())


def wait_for_region_master(doc: str):
    """Wait until the region marts are published with every region batch released, so on
    a first start the region master runs first, without failing and retrying here."""
    return _wait_for_region_master.override(task_id="wait_for_region_master", doc_md=doc)()


@task(retries=0)
def _audit_marts(tables: list[str], **context) -> list[str]:
    """Great Expectations suite of every built mart, in the build schema: a critical
    failure stops the run here, before anything is published."""
    _pipeline("marts").audit(_warehouse(), tables, **_run_ids(context))
    return tables


def audit_marts(tables):
    return _audit_marts.override(task_id="audit_marts")(tables)


@task(retries=0)
def _publish_marts(tables: list[str], **context) -> dict:
    """Copy the audited marts into ``marts`` in one transaction."""
    return _pipeline("marts").publish_marts(_warehouse(), tables, **_run_ids(context))


def publish_marts(tables, outlets: Sequence[Asset]):
    return _publish_marts.override(task_id="publish_marts", outlets=list(outlets))(tables)


@task
def _report_published(pipeline: str) -> dict:
    return _pipeline(pipeline).published_counts(_warehouse())


def report_published(pipeline: str, doc: str):
    """Row counts of what was published (``<pipeline>.published_counts``), for the run log."""
    return _report_published.override(task_id="report_published", doc_md=doc)(pipeline)


def source_dag(
    name: str,
    doc_md: str | None,
    *,
    gate_doc: str = GATE_DOC,
    params: Mapping[str, Any] | None = None,
    region_master_doc: str | None = None,
    region_master_read_by: str = "land",
    before_land: Callable[[], Any] | None = None,
    verdict: Callable[[Any], Any] | None = None,
) -> DAG:
    """The DAG of the source family ``name`` (``lumbung.families``): ``bootstrap_warehouse
    -> <land task> -> quality_gate -> announce_release`` over the functions of its pipeline,
    with its dag_id, schedule, tags and Assets.

    What some sources add: ``region_master_doc``, a ``wait_for_region_master`` sensor
    before the first task that reads ``marts.dim_village``, ``region_master_read_by``
    (``land``, or ``gate`` when only the gate does: the files land meanwhile);
    ``before_land``, a task between bootstrap and landing that may be skipped (landing then
    runs anyway);
    ``verdict``, a task on the gate's result after the release that fails the run naming
    every rejected file: required by, and only by, the ``FAIL_AT_END`` gate failure policy.
    """
    source = family(name)
    if (verdict is not None) != (source.gate_failure == FAIL_AT_END):
        raise ValueError(f"{name}: a verdict task goes with gate_failure {FAIL_AT_END!r} only")
    pipeline = source.pipeline
    with lumbung_dag(source.name, doc_md, schedule=source.schedule, tags=source.tags,
                     params=params) as dag:
        bootstrap = bootstrap_warehouse()
        land_task = (source.land_task, source.land_doc)
        if before_land is None:
            landed = land(pipeline, *land_task)
            bootstrap >> landed
        else:
            landed = land(pipeline, *land_task, trigger_rule="none_failed")
            bootstrap >> before_land() >> landed
        if region_master_read_by not in ("land", "gate"):
            raise ValueError(f"{name}: region_master_read_by is 'land' or 'gate', "
                             f"not {region_master_read_by!r}")
        gated = quality_gate(landed, pipeline, gate_doc)
        if region_master_doc is not None:
            wait_for_region_master(region_master_doc) >> (
                landed if region_master_read_by == "land" else gated)
        announced = announce_release(gated, BY_DAG[source.name])
        if verdict is not None:
            announced >> verdict(gated)
    return dag
