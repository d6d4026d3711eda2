"""The whole pipeline under Airflow's real scheduler (`lumbung airflow`: standalone,
LocalExecutor), started once for this module on a fresh warehouse database of the session's
server: once the API answers, every DAG unpaused at once, as a new user does after
`make airflow`. Every DAG must
succeed with no failed task instance on the way (the region master first, through sensors,
not retries), and the published marts must equal those of a `dag.test()` run of the same
files. Then several whole marts builds in a row (2 dbt threads) must all succeed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import psycopg
import pytest
from conftest import REPO, free_port, table_fingerprint

from lumbung import airflow_env
from lumbung import airflow_watch as watch
from lumbung.generate import GenerateConfig, generate
from lumbung.runner import DAG_ORDER

REGENCIES = ("1812",)  # 103 villages: the whole pipeline, small
YEAR = 2024
SETTLE_S = 1800  # the longest the pipeline may take to settle on a busy 2-core machine


def _landing(root) -> None:
    """The vendored region master and a small generated delivery of every other source."""
    shutil.copytree(REPO / "data" / "landing" / "region", root / "region")
    generate(GenerateConfig(out=root, regencies=REGENCIES, years=(YEAR,), seed=11,
                            sources=("survey", "idm", "apbdes", "bumdes", "ojk")))


def _published(url) -> dict[str, tuple[int, str]]:
    """Row count and content hash of every published mart, a batch named by its file (the
    ids of ``audit.load_batches`` count landings in the order they happened: under the
    scheduler the sources land at once, interleaved, under dag.test() one after another)."""
    with psycopg.connect(url.url()) as conn:
        columns: dict[str, list[str]] = {}
        for table, column in conn.execute(
                "select table_name, column_name from information_schema.columns "
                "where table_schema = 'marts' order by table_name, ordinal_position"):
            columns.setdefault(table, []).append(column)
        published = {}
        for table, names in columns.items():
            exprs = [f"(select concat_ws('/', b.source, b.dataset, b.partition_key, "
                     f'b.content_hash) from audit.load_batches b where b.batch_id = t."{c}")'
                     if c.endswith("batch_id") else f't."{c}"' for c in names]
            query = f"(select row({', '.join(exprs)}) as r from marts.{table} t)"
            published[table] = table_fingerprint(conn, query)
        return published


# mart_data_quality counts the runs themselves (a mart audit per marts run) and
# publication_info says when and by which publication each mart was published: not data
ABOUT_RUNS = ("mart_data_quality", "publication_info")


def _data(published: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    """The published marts without those that describe the runs rather than the data."""
    assert set(ABOUT_RUNS) <= set(published), published
    return {t: v for t, v in published.items() if t not in ABOUT_RUNS}


@pytest.fixture(scope="module")
def scheduled(warehouse, tmp_path_factory, background_default_run):
    """`lumbung airflow` over a fresh warehouse database, every DAG unpaused from the start;
    yields (warehouse url, metadata connection, environment, process, output file)."""
    root = tmp_path_factory.mktemp("scheduler")
    _landing(root / "landing")
    url = watch.fresh_database(warehouse, "lumbung_sched")
    env = {**os.environ,
           "LUMBUNG_WAREHOUSE_URL": url.url(),
           "LUMBUNG_STATE_DIR": str(root / "state"),
           "LUMBUNG_LANDING_DIR": str(root / "landing"),
           # the test's own small delivery: no generated province-wide IDM beside it
           "LUMBUNG_AUTO_GENERATE": "0",
           "LUMBUNG_AIRFLOW_PORT": str(free_port()),
           "LUMBUNG_AIRFLOW_LOG_PORT": str(free_port()),
           "LUMBUNG_AIRFLOW_TRIGGERER_LOG_PORT": str(free_port()),
           "LUMBUNG_DBT_THREADS": "2"}
    env.pop("LUMBUNG_DBT_SERVER", None)  # its own, as a user's
    out = root / "airflow.out"
    process, meta = watch.start(env, url, out, REPO)
    try:
        airflow = {**env, **watch.airflow_environ(env, url)}
        watch.unpause_everything(airflow, meta, process, out, DAG_ORDER)
        with meta:
            yield url, meta, airflow, process, out
    finally:
        # SIGTERM, as a user's Ctrl-C: every process it started must be gone within its
        # bound and its ports free (whatever is left is killed, then the test fails)
        killed, listening = watch.stop(process, [int(env[k]) for k in (
            "LUMBUNG_AIRFLOW_PORT", "LUMBUNG_AIRFLOW_LOG_PORT",
            "LUMBUNG_AIRFLOW_TRIGGERER_LOG_PORT")])
        assert not killed, killed
        assert not listening, listening


def _settled(meta, process, out, want: dict[str, int]):
    return watch.wait_settled(meta, process, out, want, SETTLE_S)


@pytest.mark.e2e
def test_first_start_runs_every_dag_without_a_failure(scheduled, paths, warehouse,
                                                      tmp_path, monkeypatch):
    url, meta, _env, process, out = scheduled
    runs = _settled(meta, process, out, {dag: 1 for dag in DAG_ORDER})
    # the region master went first: no source and no marts run failed waiting for it
    assert not [r for r in runs if r[1] != "success"], runs
    published = _published(url)
    assert {"dim_village", "mart_village_finance", "mart_smart_village", "mart_idm"} \
        <= set(published)
    assert all(rows > 0 for rows, _ in published.values()), published

    # the same files through dag.test() (as `lumbung run`), on another fresh database
    from lumbung import runner
    from lumbung.config import WAREHOUSE_CONN_ID, Paths
    from lumbung.warehouse import bootstrap

    reference = watch.fresh_database(warehouse, "lumbung_sched_ref")
    monkeypatch.setenv("LUMBUNG_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LUMBUNG_LANDING_DIR", str(out.parent / "landing"))
    monkeypatch.setenv("AIRFLOW_CONN_" + WAREHOUSE_CONN_ID.upper(), reference.url())
    ref_paths = Paths.from_env()
    bootstrap(ref_paths, reference)
    outcomes = runner.run_dags(ref_paths, reference)
    assert all(o.state == "success" for o in outcomes), outcomes
    assert _data(_published(reference)) == _data(published)


@pytest.mark.e2e
def test_whole_marts_builds_in_a_row_never_fail(scheduled):
    """The deadlock scenario: whole rebuilds back to back, two dbt threads each."""
    url, meta, env, process, out = scheduled
    _settled(meta, process, out, {dag: 1 for dag in DAG_ORDER})
    published = _published(url)
    before = sum(1 for d, s in watch.runs(meta) if d == "smart_village_marts" and s == "success")
    airflow = [sys.executable, "-m", "airflow"]
    for _ in range(3):
        subprocess.run([*airflow, "dags", "trigger", "smart_village_marts", "--conf",
                        '{"everything": true}'], env=env, check=True, capture_output=True)
    _settled(meta, process, out, {"smart_village_marts": before + 3})
    # the same inputs: the same marts, whole
    assert _data(_published(url)) == _data(published)


@pytest.mark.e2e
def test_the_executors_workers_have_the_tasks_libraries_loaded(scheduled):
    """A task's process is a fork of a LocalExecutor worker, itself a fork of the scheduler,
    which imported the gate's libraries first: no task imports them again. (Airflow's
    scheduler alone imports no pandas; its compiled modules are in a worker's memory map.)"""
    _url, _meta, _env, process, _out = scheduled
    workers = [p for p in airflow_env.process_tree(process.pid)
               if "LocalExecutor" in " ".join(p.cmdline())]
    assert workers
    for worker in workers:
        assert any("/pandas/_libs/" in m.path for m in worker.memory_maps()), worker
