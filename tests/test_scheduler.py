"""The whole pipeline under Airflow's real scheduler (`lumbung airflow`: standalone,
LocalExecutor), started once for this module on a fresh warehouse database of the session's
server: once the API answers, every DAG unpaused at once, as a new user does after
`make airflow`. Every DAG must
succeed with no failed task instance on the way (the region master first, through sensors,
not retries), and the published marts must equal those of a `dag.test()` run of the same
files. Then several whole marts builds in a row (2 dbt threads) must all succeed."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import psycopg
import pytest
from conftest import REPO, free_port, table_fingerprint

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


def _fresh_database(warehouse, name: str):
    with psycopg.connect(warehouse.url(), autocommit=True) as conn:
        for db in (name, f"{name}_airflow"):
            conn.execute(f'drop database if exists "{db}" with (force)')
    return dataclasses.replace(warehouse, dbname=name)


def _metadata(url) -> psycopg.Connection:
    return psycopg.connect(dataclasses.replace(url, dbname=f"{url.dbname}_airflow").url(),
                           autocommit=True)


def _runs(meta: psycopg.Connection) -> list[tuple[str, str]]:
    return meta.execute("select dag_id, state from dag_run order by id").fetchall()


def _bad_tasks(meta: psycopg.Connection) -> list[tuple]:
    return meta.execute(
        "select dag_id, task_id, run_id, state, try_number from task_instance "
        "where state in ('failed', 'up_for_retry', 'upstream_failed') or try_number > 1"
    ).fetchall()


def _wait_settled(meta, process, out, want: dict[str, int], deadline_s: float = SETTLE_S):
    """Wait until every DAG of ``want`` has at least that many successful runs and nothing
    runs or waits any more (for 20 s); fail at once on a failed task."""
    deadline = time.monotonic() + deadline_s
    quiet_since = None
    while True:
        assert process.poll() is None, out.read_text()[-3000:]
        bad = _bad_tasks(meta)
        assert not bad, bad
        runs = _runs(meta)
        done = {dag: sum(1 for d, s in runs if d == dag and s == "success") for dag in want}
        busy = [r for r in runs if r[1] in ("queued", "running")]
        assert not [r for r in runs if r[1] == "failed"], runs
        if all(done[d] >= n for d, n in want.items()) and not busy:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 20:
                return runs
        else:
            quiet_since = None
        assert time.monotonic() < deadline, (runs, out.read_text()[-3000:])
        time.sleep(3)


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


def _airflow_environ(env: dict[str, str], url) -> dict[str, str]:
    """The Airflow settings `lumbung airflow` runs with under ``env`` (for its CLI)."""
    from lumbung import airflow_env
    from lumbung.config import Paths

    saved = dict(os.environ)
    try:
        os.environ.update(env)
        return airflow_env.airflow_environ(Paths.from_env(), url)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _unpause_everything(airflow: dict[str, str], meta, process, out) -> None:
    """What a new user does in the UI once it answers: unpause every DAG (REST API v2)."""
    from lumbung import airflow_env
    from lumbung.config import Paths

    port = int(airflow["AIRFLOW__API__PORT"])
    deadline = time.monotonic() + 1200  # minutes on a 2-core machine shared with others
    while True:  # the API answers and the DAG processor has stored every DAG
        assert process.poll() is None, out.read_text()[-3000:]
        dags = {r[0] for r in meta.execute("select dag_id from dag")}
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health",
                                        timeout=5) as r:
                healthy = r.status == 200
        except OSError:
            healthy = False
        if healthy and set(DAG_ORDER) <= dags:
            break
        assert time.monotonic() < deadline, (dags, out.read_text()[-3000:])
        time.sleep(3)
    saved = dict(os.environ)
    try:
        os.environ.update(airflow)
        passwords = airflow_env.passwords_file(Paths.from_env())
    finally:
        os.environ.clear()
        os.environ.update(saved)
    password = json.loads(passwords.read_text())["admin"]
    token = json.loads(_http(port, "/auth/token", "POST",
                             {"username": "admin", "password": password}))["access_token"]
    for dag_id in DAG_ORDER:
        _http(port, f"/api/v2/dags/{dag_id}", "PATCH", {"is_paused": False}, token)


def _http(port: int, path: str, method: str, body: dict, token: str | None = None) -> bytes:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (http://127.0.0.1)
        return response.read()


@pytest.fixture(scope="module")
def scheduled(warehouse, tmp_path_factory):
    """`lumbung airflow` over a fresh warehouse database, every DAG unpaused from the start;
    yields (warehouse url, metadata connection, environment, process, output file)."""
    root = tmp_path_factory.mktemp("scheduler")
    _landing(root / "landing")
    url = _fresh_database(warehouse, "lumbung_sched")
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
    with out.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "lumbung.cli", "airflow"], env=env,
                                   stdout=sink, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        deadline = time.monotonic() + 300
        while True:  # the metadata database exists once `prepare` migrated it
            assert process.poll() is None, out.read_text()[-3000:]
            try:
                meta = _metadata(url)
                meta.execute("select 1 from dag_run limit 1")
                break
            except psycopg.Error:
                assert time.monotonic() < deadline, out.read_text()[-3000:]
                time.sleep(2)
        airflow = {**env, **_airflow_environ(env, url)}
        _unpause_everything(airflow, meta, process, out)
        with meta:
            yield url, meta, airflow, process, out
    finally:
        _stop(process, env)


def _stop(process: subprocess.Popen, env: dict[str, str]) -> None:
    """SIGTERM to `lumbung airflow`, as a user's Ctrl-C: every process it started must be
    gone within its bound and its ports free; whatever is left is killed (so a failed run
    leaves nothing behind either), then the test fails."""
    import psutil

    tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        pass
    _, alive = psutil.wait_procs(tree, timeout=10)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=10)
    ports = [int(env[k]) for k in ("LUMBUNG_AIRFLOW_PORT", "LUMBUNG_AIRFLOW_LOG_PORT",
                                   "LUMBUNG_AIRFLOW_TRIGGERER_LOG_PORT")]
    listening = [c.laddr.port for c in psutil.net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port in ports]
    assert not alive, [p.pid for p in alive]
    assert not listening, listening


@pytest.mark.e2e
def test_first_start_runs_every_dag_without_a_failure(scheduled, paths, warehouse,
                                                      tmp_path, monkeypatch):
    url, meta, _env, process, out = scheduled
    runs = _wait_settled(meta, process, out, {dag: 1 for dag in DAG_ORDER})
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

    reference = _fresh_database(warehouse, "lumbung_sched_ref")
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
    _wait_settled(meta, process, out, {dag: 1 for dag in DAG_ORDER})
    published = _published(url)
    before = sum(1 for d, s in _runs(meta) if d == "smart_village_marts" and s == "success")
    airflow = [sys.executable, "-m", "airflow"]
    for _ in range(3):
        subprocess.run([*airflow, "dags", "trigger", "smart_village_marts", "--conf",
                        '{"everything": true}'], env=env, check=True, capture_output=True)
    _wait_settled(meta, process, out, {"smart_village_marts": before + 3})
    # the same inputs: the same marts, whole
    assert _data(_published(url)) == _data(published)
