"""Several DAGs of ``lumbung run`` at once, each with ``dag.test()`` in a process of its own.

The sources are independent of each other, so their DAGs need not wait in a line: a DAG
starts as soon as a slot is free and what it needs has ended (the region master before a DAG
that waits for it, every other DAG of the run before a DAG scheduled on their Assets, as the
scheduler would order them). Each runs in a fork of this process, which has imported
Airflow, parsed the DAGs and loaded the heavy libraries once; Airflow gives a fork fresh
database connections itself. A DAG's outcome comes back through a pipe; a process that dies
is a failed DAG with its exit code, never a lost one.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING

from lumbung.preload import preload

if TYPE_CHECKING:
    from airflow.sdk import DAG

    from lumbung.run_console import Console
    from lumbung.runner import DagOutcome

log = logging.getLogger(__name__)

REGION_DAG = "region"
REGION_WAIT = "wait_for_region_master"  # the task of a DAG that reads the region master


def prerequisites(dags: dict[str, DAG]) -> dict[str, set[str]]:
    """For each DAG of the run (in run order), the DAGs of the run that must end before it
    starts: the region DAG for one with a ``wait_for_region_master`` task, and every DAG
    before it for one scheduled on Assets (the marts, which consume the sources')."""
    order = list(dags)
    needs: dict[str, set[str]] = {}
    for position, (dag_id, dag) in enumerate(dags.items()):
        if _asset_scheduled(dag):
            needs[dag_id] = set(order[:position])
        elif REGION_WAIT in dag.task_dict and REGION_DAG in dags and dag_id != REGION_DAG:
            needs[dag_id] = {REGION_DAG}
        else:
            needs[dag_id] = set()
    return needs


def _asset_scheduled(dag: DAG) -> bool:
    from airflow.sdk.definitions.asset import BaseAsset

    return isinstance(getattr(dag.timetable, "asset_condition", None), BaseAsset)


def run_concurrently(
    dags: dict[str, DAG],
    run_one: Callable[[str, DAG, bool], DagOutcome],
    slots: int,
    console: Console,
    before: Callable[[str], None] | None = None,
) -> list[DagOutcome]:
    """Run every DAG of ``dags`` (id -> DAG, in run order), at most ``slots`` at once, each
    through ``run_one(dag_id, dag, qualified=True)`` in a forked process; the outcomes in run
    order. ``before(dag_id)`` runs here, before that DAG's process starts."""
    pool = _Pool(dags, run_one, console, before)
    try:
        pool.run(slots)
    finally:  # stopped (Ctrl-C, SIGTERM): no DAG process outlives the run
        pool.stop()
    return [pool.ended[dag_id] for dag_id in dags]


class _Pool:
    def __init__(self, dags: dict[str, DAG], run_one: Callable, console: Console,
                 before: Callable[[str], None] | None) -> None:
        self.dags, self.run_one, self.console, self.before = dags, run_one, console, before
        self.needs = prerequisites(dags)
        self.waiting = list(dags)
        self.running: dict[str, tuple[BaseProcess, Connection, float]] = {}
        self.ended: dict[str, DagOutcome] = {}
        self.context = multiprocessing.get_context("fork")

    def run(self, slots: int) -> None:
        while self.waiting or self.running:
            free = slots - len(self.running)
            for dag_id in _startable(self.waiting, self.needs, self.ended, free):
                self.start(dag_id)
            if not self.running:  # nothing can start: a prerequisite is not in the run
                raise RuntimeError(
                    f"DAG(s) {', '.join(self.waiting)} wait for DAGs that never end")
            self.collect(wait([r for _, r, _ in self.running.values()]
                              + [p.sentinel for p, _, _ in self.running.values()]))

    def start(self, dag_id: str) -> None:
        from lumbung.run_console import dag_line

        self.waiting.remove(dag_id)
        if self.before is not None:
            self.before(dag_id)
        self.console.line(dag_line(dag_id, f"running {len(self.dags[dag_id].tasks)} task(s)"))
        receiver, sender = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=_child, args=(dag_id, self.dags[dag_id], self.run_one, sender),
            name=f"lumbung-run-{dag_id}",
        )
        process.start()
        sender.close()
        self.running[dag_id] = (process, receiver, time.monotonic())

    def collect(self, ready: list) -> None:
        from lumbung.run_console import dag_line

        for dag_id, (process, receiver, started) in list(self.running.items()):
            if receiver in ready or process.sentinel in ready:
                outcome = _outcome(dag_id, process, receiver, started)
                del self.running[dag_id]
                self.ended[dag_id] = outcome
                self.console.line(dag_line(dag_id, outcome.state, outcome.seconds))

    def stop(self, grace: float = 10.0) -> None:
        """Terminate the DAGs still running; kill those alive ``grace`` seconds later."""
        for process, _, _ in self.running.values():
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + grace
        for dag_id, (process, _, _) in self.running.items():
            process.join(max(deadline - time.monotonic(), 0))
            if process.is_alive():
                log.warning("the process of DAG %s did not stop; killing it", dag_id)
                process.kill()
                process.join()


def _startable(waiting: Sequence[str], needs: dict[str, set[str]],
               ended: dict[str, DagOutcome], free: int) -> list[str]:
    """The DAGs to start in the free slots: those whose prerequisites have ended, the ones
    that waited for most first (they start late, and the region master's readers are the
    long ones), else in run order."""
    ready = [dag_id for dag_id in waiting if needs[dag_id] <= ended.keys()]
    ready.sort(key=lambda dag_id: -len(needs[dag_id]))  # stable: run order otherwise
    return ready[:max(free, 0)]


def before_forking() -> None:
    """What the DAGs' processes share from this one: the heavy libraries imported, and the
    DAGs written into Airflow's metadata database."""
    preload()
    _register_dags()


@contextmanager
def preloading() -> Iterator[None]:
    """Import the libraries the DAGs' processes share in a thread, during the block (the
    warehouse's start, which mostly waits on PostgreSQL and ``airflow db migrate``); the
    block ends when they are imported, before any fork. They import no Airflow, whose
    configuration must be set first."""
    thread = threading.Thread(target=preload, name="lumbung-preload", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def _register_dags() -> None:
    """What every ``dag.test()`` writes first, the DAG bundles and every DAG of them with
    their Assets, written once here: processes writing them at once into a fresh metadata
    database collide on the same new rows."""
    from airflow import settings
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    with settings.Session() as session:
        manager.sync_bundles_to_db(session=session)
        session.commit()
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path,
                           bundle_name=bundle.name)
        sync_bag_to_db(bag, bundle.name, bundle.version)


def _child(dag_id: str, dag: DAG, run_one: Callable, sender: Connection) -> None:
    # not the parent's handler (it raises to unwind the parent); a task may set its own
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        outcome = run_one(dag_id, dag, True)
    except BaseException as error:  # the parent reports it; the trace goes to the log
        log.error("DAG %s stopped: %s", dag_id, traceback.format_exc())
        sender.send(("error", f"{type(error).__name__}: {error}"))
    else:
        sender.send(("outcome", outcome))
    finally:
        sender.close()


def _outcome(dag_id: str, process: BaseProcess, receiver: Connection,
             started: float) -> DagOutcome:
    from lumbung.runner import DagOutcome

    message = None
    try:
        if receiver.poll(30 if process.is_alive() else 0):
            message = receiver.recv()
    except (EOFError, OSError):
        message = None
    process.join(60)
    seconds = time.monotonic() - started
    if message is not None and message[0] == "outcome":
        return message[1]
    error = (message[1] if message is not None
             else f"the process running the DAG ended with exit code {process.exitcode}")
    return DagOutcome(dag_id=dag_id, state="failed", seconds=seconds, error=error)
