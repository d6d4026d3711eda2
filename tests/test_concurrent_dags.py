"""`lumbung run` with several DAGs at once (``lumbung.concurrent_dags``): what waits for what,
taken from the DAGs themselves; slots respected; every DAG's outcome comes back, a dead
process's too. The whole default run goes this way in tests/test_default_run.py."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from lumbung.concurrent_dags import prerequisites, run_concurrently
from lumbung.run_console import Console
from lumbung.runner import DAG_ORDER, DagOutcome

DAGS = Path(__file__).resolve().parents[1] / "dags"


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert not bag.import_errors
    return {dag_id: bag.dags[dag_id] for dag_id in DAG_ORDER}


def test_region_readers_wait_for_it_and_the_marts_for_every_source(dags):
    needs = prerequisites(dags)
    readers = {d for d, dag in dags.items() if "wait_for_region_master" in dag.task_dict}
    assert {"apbdes", "programmes"} <= readers
    for dag_id in readers - {"smart_village_marts"}:
        assert needs[dag_id] == {"region"}
    assert needs["smart_village_marts"] == set(DAG_ORDER) - {"smart_village_marts"}
    assert needs["region"] == needs["idm"] == set()
    # without the region DAG in the run, its readers start at once (their sensor waits)
    assert prerequisites({d: dags[d] for d in ("apbdes", "survey")})["apbdes"] == set()


def _fake(dag_id: str, *, region_reader: bool = False, assets: bool = False):
    from airflow.sdk import Asset
    from airflow.sdk.definitions.timetables.assets import AssetTriggeredTimetable

    tasks = ["land", *(["wait_for_region_master"] if region_reader else [])]
    timetable = AssetTriggeredTimetable(Asset("lumbung://test/x")) if assets else None
    return SimpleNamespace(dag_id=dag_id, tasks=tasks, task_dict=dict.fromkeys(tasks),
                           timetable=timetable)


def _journal_runner(journal: Path, behaviour: dict[str, str]):
    """run_one for fake DAGs: writes start and end to ``journal``, then does what
    ``behaviour`` says (sleep by default, 'die' ends the process, 'raise' raises)."""

    def run_one(dag_id: str, dag, qualified: bool = False) -> DagOutcome:
        assert qualified
        with open(journal, "a") as out:
            out.write(f"{time.monotonic()} start {dag_id}\n")
        kind = behaviour.get(dag_id, "")
        if kind == "die":
            os._exit(7)
        if kind == "raise":
            raise ValueError(f"{dag_id} broke")
        time.sleep(0.4)
        with open(journal, "a") as out:
            out.write(f"{time.monotonic()} end {dag_id}\n")
        return DagOutcome(dag_id=dag_id, state="success", seconds=0.4)

    return run_one


def _events(journal: Path) -> list[tuple[float, str, str]]:
    rows = [line.split() for line in journal.read_text().splitlines()]
    return sorted((float(t), kind, dag) for t, kind, dag in rows)


def test_slots_order_and_outcomes(tmp_path):
    dags = {
        "region": _fake("region"),
        "idm": _fake("idm"),
        "survey": _fake("survey"),
        "apbdes": _fake("apbdes", region_reader=True),
        "smart_village_marts": _fake("smart_village_marts", region_reader=True, assets=True),
    }
    journal = tmp_path / "journal"
    stream = io.StringIO()
    outcomes = run_concurrently(dags, _journal_runner(journal, {}), 2, Console(stream))

    assert [o.dag_id for o in outcomes] == list(dags)
    assert all(o.state == "success" for o in outcomes)
    events = _events(journal)
    at = {(kind, dag): t for t, kind, dag in events}
    assert at[("start", "apbdes")] > at[("end", "region")]
    assert at[("start", "smart_village_marts")] > max(
        at[("end", d)] for d in dags if d != "smart_village_marts")
    running, most = 0, 0
    for _, kind, _ in events:
        running += 1 if kind == "start" else -1
        most = max(most, running)
    assert most == 2  # two at once, never three
    # apbdes waited for the region master, so it takes the first free slot after it
    assert at[("start", "apbdes")] < at[("start", "survey")]
    lines = stream.getvalue().splitlines()
    assert "region: running 1 task(s)" in lines
    assert any(line.startswith("smart_village_marts: success in ") for line in lines)


def test_a_dead_or_broken_dag_is_a_failed_outcome_and_the_others_still_run(tmp_path):
    dags = {name: _fake(name) for name in ("idm", "survey", "bumdes", "ojk")}
    journal = tmp_path / "journal"
    outcomes = run_concurrently(
        dags, _journal_runner(journal, {"survey": "die", "bumdes": "raise"}), 2,
        Console(io.StringIO()),
    )
    by_id = {o.dag_id: o for o in outcomes}
    assert [o.dag_id for o in outcomes] == list(dags)
    assert by_id["idm"].state == by_id["ojk"].state == "success"
    assert by_id["survey"].state == "failed"
    assert "exit code 7" in by_id["survey"].error
    assert by_id["bumdes"].state == "failed"
    assert by_id["bumdes"].error == "ValueError: bumdes broke"


def test_a_stopped_run_leaves_no_dag_process(tmp_path):
    """Ctrl-C (or SIGTERM, which ``lumbung run`` turns into SystemExit) while a DAG runs:
    its process is stopped, not left running."""
    import multiprocessing

    dags = {name: _fake(name) for name in ("idm", "survey")}
    journal = tmp_path / "journal"

    def slow(dag_id: str, dag, qualified: bool = False) -> DagOutcome:
        with open(journal, "a") as out:
            out.write(f"{time.monotonic()} start {dag_id}\n")
        time.sleep(60)
        return DagOutcome(dag_id=dag_id, state="success", seconds=60)

    def before(dag_id: str) -> None:
        if dag_id == "survey":
            deadline = time.monotonic() + 30
            while not journal.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_concurrently(dags, slow, 2, Console(io.StringIO()), before)
    assert "start idm" in journal.read_text()
    assert multiprocessing.active_children() == []
    assert time.monotonic() - started < 30
