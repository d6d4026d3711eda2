"""A running `lumbung airflow` seen from outside, as the scheduler test and the scheduler
benchmark drive it: started over a given warehouse, every DAG unpaused through the REST API
v2 once it answers (what a new user does in the UI), watched in Airflow's metadata database
until every DAG has settled, then stopped as a user's Ctrl-C stops it."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path

import psycopg

from lumbung.config import PgUrl


class WatchFailed(AssertionError):
    """The pipeline under the scheduler did not settle as it must (a failed task, a dead
    `lumbung airflow`, a deadline passed); the message holds what was seen."""


def fresh_database(warehouse: PgUrl, name: str) -> PgUrl:
    """``warehouse`` with database ``name``; that database and its Airflow metadata database
    (``<name>_airflow``) are dropped first, so `lumbung airflow` creates both anew."""
    with psycopg.connect(warehouse.with_db("postgres").url(), autocommit=True) as conn:
        for db in (name, f"{name}_airflow"):
            conn.execute(f'drop database if exists "{db}" with (force)')
    return dataclasses.replace(warehouse, dbname=name)


def metadata(url: PgUrl) -> psycopg.Connection:
    """Autocommit connection to the Airflow metadata database beside ``url``."""
    return psycopg.connect(dataclasses.replace(url, dbname=f"{url.dbname}_airflow").url(),
                           autocommit=True)


def runs(meta: psycopg.Connection) -> list[tuple[str, str]]:
    return meta.execute("select dag_id, state from dag_run order by id").fetchall()


def bad_tasks(meta: psycopg.Connection) -> list[tuple]:
    """Task instances that failed, wait for a retry or were tried more than once."""
    return meta.execute(
        "select dag_id, task_id, run_id, state, try_number from task_instance "
        "where state in ('failed', 'up_for_retry', 'upstream_failed') or try_number > 1"
    ).fetchall()


def _tail(out: Path) -> str:
    return out.read_text(errors="replace")[-3000:]


def _check(ok: bool, what, out: Path) -> None:
    if not ok:
        raise WatchFailed(f"{what}\n--- lumbung airflow output (tail) ---\n{_tail(out)}")


def wait_settled(meta: psycopg.Connection, process: subprocess.Popen, out: Path,
                 want: dict[str, int], deadline_s: float, quiet_s: float = 20.0,
                 on_poll=None) -> list[tuple[str, str]]:
    """Wait until every DAG of ``want`` has at least that many successful runs and nothing
    runs or waits any more (for ``quiet_s``); fail at once on a failed task or run.
    ``on_poll`` is called every few seconds (a benchmark samples memory there)."""
    deadline = time.monotonic() + deadline_s
    quiet_since = None
    while True:
        _check(process.poll() is None, "lumbung airflow ended", out)
        bad = bad_tasks(meta)
        _check(not bad, f"failed or retried task instances: {bad}", out)
        seen = runs(meta)
        failed = [r for r in seen if r[1] == "failed"]
        _check(not failed, f"failed DAG runs: {failed}", out)
        done = {dag: sum(1 for d, s in seen if d == dag and s == "success") for dag in want}
        busy = [r for r in seen if r[1] in ("queued", "running")]
        if all(done[d] >= n for d, n in want.items()) and not busy:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > quiet_s:
                return seen
        else:
            quiet_since = None
        _check(time.monotonic() < deadline, f"not settled within {deadline_s:.0f} s: {seen}",
               out)
        if on_poll is not None:
            on_poll()
        time.sleep(3)


def airflow_environ(env: dict[str, str], url: PgUrl) -> dict[str, str]:
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


def http(port: int, path: str, method: str, body: dict, token: str | None = None) -> bytes:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (http://127.0.0.1)
        return response.read()


def unpause_everything(airflow: dict[str, str], meta: psycopg.Connection,
                       process: subprocess.Popen, out: Path, dag_ids: Iterable[str],
                       deadline_s: float = 1200) -> None:
    """What a new user does in the UI once it answers: unpause every DAG (REST API v2),
    after the DAG processor has stored all of ``dag_ids``."""
    from lumbung import airflow_env
    from lumbung.config import Paths

    dag_ids = tuple(dag_ids)
    port = int(airflow["AIRFLOW__API__PORT"])
    deadline = time.monotonic() + deadline_s
    while True:
        _check(process.poll() is None, "lumbung airflow ended", out)
        dags = {r[0] for r in meta.execute("select dag_id from dag")}
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health",
                                        timeout=5) as r:
                healthy = r.status == 200
        except OSError:
            healthy = False
        if healthy and set(dag_ids) <= dags:
            break
        _check(time.monotonic() < deadline, f"API or DAGs not ready: {sorted(dags)}", out)
        time.sleep(3)
    saved = dict(os.environ)
    try:
        os.environ.update(airflow)
        passwords = airflow_env.passwords_file(Paths.from_env())
    finally:
        os.environ.clear()
        os.environ.update(saved)
    password = json.loads(passwords.read_text())["admin"]
    token = json.loads(http(port, "/auth/token", "POST",
                            {"username": "admin", "password": password}))["access_token"]
    for dag_id in dag_ids:
        http(port, f"/api/v2/dags/{dag_id}", "PATCH", {"is_paused": False}, token)


def start(env: dict[str, str], url: PgUrl, out: Path, cwd: Path,
          deadline_s: float = 300) -> tuple[subprocess.Popen, psycopg.Connection]:
    """`lumbung airflow` under ``env`` (output to ``out``); returns it and a connection to
    its metadata database once `prepare` has migrated it."""
    with out.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "lumbung.cli", "airflow"], env=env,
                                   stdout=sink, stderr=subprocess.STDOUT, cwd=cwd)
    deadline = time.monotonic() + deadline_s
    try:
        while True:
            _check(process.poll() is None, "lumbung airflow ended", out)
            try:
                meta = metadata(url)
                meta.execute("select 1 from dag_run limit 1")
                return process, meta
            except psycopg.Error:
                _check(time.monotonic() < deadline, "metadata database not migrated in time",
                       out)
                time.sleep(2)
    except BaseException:
        stop(process, ())
        raise


def stop(process: subprocess.Popen, ports: Iterable[int]) -> tuple[list[int], list[int]]:
    """SIGTERM to `lumbung airflow`, as a user's Ctrl-C; whatever of its tree is still alive
    after its bound is killed. Returns the pids that had to be killed and those of ``ports``
    still listening afterwards (both empty when it stopped cleanly)."""
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
    ports = set(ports)
    listening = [c.laddr.port for c in psutil.net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port in ports]
    return [p.pid for p in alive], listening
