"""``lumbung run``: the whole pipeline, for real, through Airflow's own task execution.

Each DAG runs with ``dag.test()`` (real task instances recorded in Airflow's metadata
database, in this process, no scheduler needed), in dependency order.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from lumbung import airflow_env, dbt_server
from lumbung.concurrent_dags import preloading
from lumbung.config import Paths, PgUrl, redact
from lumbung.db import count_rows
from lumbung.families import FAMILIES
from lumbung.run_console import dag_line
from lumbung.warehouse import bootstrap, warehouse_url

if TYPE_CHECKING:
    from lumbung.run_console import Console

log = logging.getLogger(__name__)

# Producers before consumers (the marts DAG consumes the source DAGs' assets), the source
# DAGs in the families' order (lumbung.families).
DAG_ORDER: tuple[str, ...] = (*(f.name for f in FAMILIES), "smart_village_marts")
# The sources whose DAGs land generated files (region lands the vendored master).
GENERATED: frozenset[str] = frozenset(f.name for f in FAMILIES if f.generated)


@dataclass
class DagOutcome:
    dag_id: str
    state: str
    seconds: float
    failed_tasks: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class RunSummary:
    warehouse: str
    dags: list[DagOutcome]
    published: dict[str, int]
    batches: list[tuple]
    quality_docs: str | None
    publications: list[tuple] = field(default_factory=list)
    reports: str | None = None  # where the quality report and regency workbooks are
    release: str | None = None  # the latest open data release folder
    origins: dict[str, dict[str, int]] = field(default_factory=dict)  # mart -> origin -> rows
    docs: str | None = None  # the dbt docs site

    @property
    def ok(self) -> bool:
        return all(d.state == "success" for d in self.dags)

    def render(self) -> str:
        lines = ["", "Lumbung run summary", "===================", f"warehouse: {self.warehouse}"]
        lines.append("DAG runs:")
        for d in self.dags:
            extra = f" failed tasks: {', '.join(d.failed_tasks)}" if d.failed_tasks else ""
            lines.append(f"  {d.dag_id:<24} {d.state:<8} {d.seconds:6.1f}s{extra}")
            if d.error:
                lines.extend("    " + ln for ln in d.error.splitlines())
        if not self.ok:
            lines.append("A failed run publishes nothing: the marts keep the last good version.")
        if self.publications:
            lines.append("Last publication of each publishing DAG (audit.publications):")
            for dag_id, publication_id, published_at, tables in self.publications:
                lines.append(f"  {dag_id:<24} #{publication_id} at {published_at:%Y-%m-%d %H:%M:%S}"
                             f" UTC: {len(tables)} table(s)")
        lines.append("Published (schema marts):")
        for table, rows in self.published.items():
            lines.append(f"  {table:<40} {rows:>10,} rows")
        if not self.published:
            lines.append("  (nothing published yet)")
        lines.append("Landed batches (audit.load_batches):")
        for source, status, n, received, loaded, quarantined in self.batches:
            lines.append(
                f"  {source:<20} {status:<10} {n:>4} batch(es)  received {received:>8,}  "
                f"loaded {loaded:>8,}  quarantined {quarantined:>6,}"
            )
        lines.extend(render_origins(self.origins))
        if self.quality_docs:
            lines.append(f"Quality report (Great Expectations Data Docs): {self.quality_docs}")
        if self.reports:
            lines.append(self.reports)
        if self.release:
            lines.append(f"Open data release: {self.release}")
        if self.docs:
            lines.append(self.docs)
        return "\n".join(lines)


def origin_counts(conn: psycopg.Connection, tables: list[str]) -> dict[str, dict[str, int]]:
    """Rows of each published mart by ``data_origin`` (marts without the column left out)."""
    with_origin = {r[0] for r in conn.execute(
        "select table_name from information_schema.columns "
        "where table_schema = 'marts' and column_name = 'data_origin'")}
    counts: dict[str, dict[str, int]] = {}
    for table in tables:
        if table in with_origin:
            counts[f"marts.{table}"] = dict(conn.execute(sql.SQL(
                "select data_origin, count(*) from {} group by 1 order by 1"
            ).format(sql.Identifier("marts", table))).fetchall())
    return counts


def render_origins(origins: dict[str, dict[str, int]]) -> list[str]:
    """How much of each mart is real public data (filter data_origin = 'real' in BI)."""
    if not origins:
        return []
    lines = ["Data origin (share of rows: real / generated / mixed):"]
    for table, counts in origins.items():
        total = sum(counts.values()) or 1
        shares = "  ".join(f"{kind} {counts.get(kind, 0) / total:6.1%}"
                           for kind in ("real", "generated", "mixed"))
        lines.append(f"  {table:<40} {shares}")
    return lines


def generate_years() -> tuple[int, ...]:
    """The fiscal years ``lumbung run`` generates: ``LUMBUNG_GENERATE_YEARS`` (space
    separated), default those of ``lumbung generate`` (2021-2024)."""
    from lumbung.generate import DEFAULT_YEARS

    value = os.environ.get("LUMBUNG_GENERATE_YEARS", "").split()
    return tuple(int(y) for y in value) if value else DEFAULT_YEARS


def ensure_landing(paths: Paths, dag_ids: tuple[str, ...] = DAG_ORDER) -> list[str]:
    """Sources with an empty landing folder get generated files (the demo / first-run case);
    the IDM folder, which holds the vendored real responses, gets a generated response for
    every desa-year that has none. Idempotent: a second call writes nothing."""
    from lumbung.generate import GENERATORS, GenerateConfig, generate, region_villages
    from lumbung.sources import idm

    if os.environ.get("LUMBUNG_AUTO_GENERATE", "1") == "0":
        log.info("LUMBUNG_AUTO_GENERATE=0: landing folders are left as they are")
        return []
    wanted = GENERATED.intersection(dag_ids)
    years = generate_years()
    empty = [
        source for source in GENERATORS
        if source in wanted
        and not any(p.is_file() for p in (paths.landing / source).rglob("*"))
    ]
    if "idm" in wanted and "idm" not in empty:
        missing = sum(
            1 for v in region_villages(paths) if v.village_type == "desa" for y in years
            if not idm.landing_path(paths.landing, v.code, y).exists()
        )
        if missing:
            log.info("IDM responses missing for %d desa-year(s): generating them", missing)
            empty.append("idm")
    if empty:
        log.info("generating landing files of %s for years %s (seed 1)",
                 ", ".join(empty), ", ".join(map(str, years)))
        generate(GenerateConfig(out=paths.landing, years=years, seed=1, sources=tuple(empty)))
    return empty


@contextmanager
def landing_in_background(
    paths: Paths, dag_ids: tuple[str, ...], console: Console
) -> Iterator[Callable[[str], None]]:
    """``ensure_landing`` in a process of its own, started now and one source at a time, so
    that generating files overlaps the warehouse's start and the DAGs already running; yields
    ``ready(dag_id)``, which waits for that DAG's own files before it starts (and for every
    source's at the end, so that their errors are the run's whatever DAGs ran)."""
    # forked before Airflow starts any thread; the files are all it hands back
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        # one worker, so one source after another, in the order of the run's DAGs
        futures = {source: pool.submit(ensure_landing, paths, (source,))
                   for source in dag_ids if source in GENERATED}

        def ready(dag_id: str | None = None) -> None:
            for source in [dag_id] if dag_id is not None else list(futures):
                future = futures.pop(source, None)
                if future is not None and future.result():
                    console.line(f"generated landing files for {source}")

        yield ready
        ready()



def prepare(paths: Paths) -> PgUrl:
    """Warehouse up and bootstrapped, Airflow configured and its metadata migrated."""
    warehouse = warehouse_url(paths)
    log.info("warehouse: %s", redact(warehouse.url()))
    bootstrap(paths, warehouse)
    airflow_env.apply(paths, warehouse)
    airflow_env.migrate_metadata(paths, warehouse)
    return warehouse


def run_dags(
    paths: Paths, warehouse: PgUrl, dag_ids: tuple[str, ...] = DAG_ORDER,
    console: Console | None = None, before: Callable[[str], None] | None = None,
    parallel: int = 1,
) -> list[DagOutcome]:
    """Each DAG with ``dag.test()``, in order (``before(dag_id)`` first, when given); with
    ``parallel`` over 1, that many at once in processes of their own, each as soon as what it
    needs has ended (``lumbung.concurrent_dags``)."""
    from airflow.dag_processing.dagbag import DagBag

    console = console or _log_console()

    bag = DagBag(dag_folder=str(paths.dags))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    dags = {}
    for dag_id in dag_ids:
        dags[dag_id] = bag.get_dag(dag_id)
        if dags[dag_id] is None:
            raise RuntimeError(f"DAG {dag_id} not found in {paths.dags}")

    def run_one(dag_id: str, dag, qualified: bool = False) -> DagOutcome:
        return _run_dag(dag_id, dag, warehouse, console, qualified)

    if parallel > 1 and len(dags) > 1:
        from lumbung.concurrent_dags import before_forking, run_concurrently

        before_forking()
        return run_concurrently(dags, run_one, parallel, console, before)
    outcomes = []
    for dag_id, dag in dags.items():
        if before is not None:
            before(dag_id)
        console.line(dag_line(dag_id, f"running {len(dag.tasks)} task(s)"))
        outcome = run_one(dag_id, dag)
        outcomes.append(outcome)
        console.line(dag_line(dag_id, outcome.state, outcome.seconds))
    return outcomes


def _run_dag(dag_id: str, dag, warehouse: PgUrl, console: Console,
             qualified: bool = False) -> DagOutcome:
    """One DAG with ``dag.test()``, a console line per task (named with its DAG when
    ``qualified``, as when several DAGs run at once)."""
    from lumbung.run_console import TaskProgress, task_line

    log.info("running DAG %s", dag_id)
    started = time.monotonic()
    progress = TaskProgress(console, warehouse, qualified=qualified)
    with progress.listening():
        dag_run = dag.test()
    instances = dag_run.get_task_instances()
    failed = [ti.task_id for ti in instances if ti.state in ("failed",)]
    for ti in instances:  # tasks that never ran (upstream failed) or ended unseen
        if ti.task_id not in progress.reported:
            console.line(task_line(progress.name(ti), str(ti.state or "not run"), None))
    return DagOutcome(
        dag_id=dag_id,
        state=str(dag_run.state),
        seconds=time.monotonic() - started,
        failed_tasks=failed,
        error=_failure_reason(warehouse, dag_id, dag_run.run_id) if failed else None,
    )


def _log_console() -> Console:
    """Progress lines into the log, for callers without a terminal of their own."""
    from lumbung.run_console import Console

    return Console(sys.stdout)


def _failure_reason(warehouse: PgUrl, dag_id: str, run_id: str | None) -> str | None:
    """Why the run failed: each failed task's error as the failure callback recorded it
    (audit.failed_runs), the gate's and the audit's reasons included."""
    with psycopg.connect(warehouse.url()) as conn:
        rows = conn.execute(
            "select task_id, error from audit.failed_runs where dag_id = %s and run_id = %s "
            "order by failed_at",
            (dag_id, run_id),
        ).fetchall()
    if not rows:
        return "no error recorded: see the run's log"
    return "\n".join(f"{task}: {error or 'no message'}" for task, error in rows)


def summarise(paths: Paths, warehouse: PgUrl, dags: list[DagOutcome]) -> RunSummary:
    with psycopg.connect(warehouse.url()) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts' order by table_name"
            )
        ]
        published = {f"marts.{t}": count_rows(conn, f"marts.{t}") for t in tables}
        origins = origin_counts(conn, tables)
        publications = conn.execute(
            """
            select distinct on (dag_id) dag_id, publication_id,
                published_at at time zone 'UTC', tables
            from audit.publications where dag_id is not null
            order by dag_id, publication_id desc
            """
        ).fetchall()
        batches = conn.execute(
            """
            select source, status, count(*), coalesce(sum(rows_received), 0),
                   coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0)
            from audit.load_batches group by source, status order by source, status
            """
        ).fetchall()
    index = paths.gx_docs / "index.html"
    latest = paths.state / "releases" / "latest"
    return RunSummary(
        warehouse=redact(warehouse.url()),
        dags=dags,
        published=published,
        batches=batches,
        quality_docs=str(index) if index.exists() else None,
        publications=publications,
        release=str(latest.resolve()) if latest.exists() else None,
        origins=origins,
    )


def default_parallel() -> int:
    """How many DAGs ``lumbung run`` runs at once: ``LUMBUNG_RUN_PARALLEL``, default 2 (the
    sources' work is split between Python and PostgreSQL, so two DAGs keep two cores busy)."""
    value = os.environ.get("LUMBUNG_RUN_PARALLEL", "").strip()
    if not value:
        return 2
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"LUMBUNG_RUN_PARALLEL={value!r}: expected a whole number of 1 or more")
    return int(value)


def run(
    paths: Paths, dag_ids: tuple[str, ...] = DAG_ORDER, console: Console | None = None,
    parallel: int | None = None,
) -> RunSummary:
    unknown = set(dag_ids) - set(DAG_ORDER)
    if unknown:
        raise ValueError(f"unknown DAG(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(DAG_ORDER)}")
    console = console or _log_console()
    parallel = default_parallel() if parallel is None else parallel
    started = time.monotonic()
    # Generating files, importing dbt (in the dbt server) and, for DAGs run side by side,
    # the libraries their processes share, all overlap the warehouse's start.
    with landing_in_background(paths, dag_ids, console) as landing_ready, \
            dbt_server.starting(paths.state) as dbt_ready:
        with preloading() if parallel > 1 else nullcontext():
            warehouse = prepare(paths)
        console.line(f"warehouse ready, Airflow metadata migrated "
                     f"({time.monotonic() - started:.1f}s)")
        started_at = datetime.now(UTC)
        # every dbt build of the run forks one dbt imported once, not a new process each
        dbt_ready()
        dags = run_dags(paths, warehouse, dag_ids, console, before=landing_ready,
                        parallel=parallel)
        docs = dbt_docs_site(paths, warehouse)
    summary = summarise(paths, warehouse, dags)
    summary.reports = auditor_outputs(paths, warehouse, started_at)
    summary.docs = docs
    return summary


def dbt_docs_site(paths: Paths, warehouse: PgUrl) -> str:
    """The dbt docs site of the warehouse as the run left it; never fails the run."""
    from lumbung import dbt_docs

    try:
        page = dbt_docs.generate(paths, warehouse)
    except Exception:  # the run's own outcome matters more than its docs
        log.exception("the dbt docs could not be generated")
        return "dbt docs: not generated (see the error above)"
    return f"dbt docs (models, columns, tests, lineage, dashboards): {page} (or: lumbung docs)"


def auditor_outputs(paths: Paths, warehouse: PgUrl, started_at: datetime) -> str | None:
    """The quality report and regency workbooks: the ones the marts DAG wrote during this
    run, else written now. A report that cannot be written never fails the run."""
    from lumbung.reports import latest_since, produce

    try:
        output = latest_since(paths, started_at) or produce(paths, warehouse)
    except Exception:  # the run's own outcome matters more than its report
        log.exception("the quality report could not be written")
        return "Quality report: not written (see the error above)"
    return output.describe()
