"""`lumbung airflow` as a user runs it: only 127.0.0.1, private secret files, and a
SIGTERM that stops every process it started and frees its ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest
from conftest import free_port

from lumbung import airflow_env, service_record
from lumbung.airflow_env import process_tree as _tree


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health",
                                    timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _start(env: dict, out) -> subprocess.Popen:
    with out.open("ab") as sink:
        return subprocess.Popen([sys.executable, "-m", "lumbung.cli", "airflow"], env=env,
                                stdout=sink, stderr=subprocess.STDOUT)


def _wait_up(process: subprocess.Popen, ports: dict[str, int], out) -> set:
    """Until the API answers and both log servers listen; returns the listening addresses.
    (A generous bound: the start migrates, imports dbt and starts four Airflow services, on a
    machine that may be busy.)"""
    deadline = time.monotonic() + 900
    while not _answers(ports["api"]):
        assert process.poll() is None, out.read_text()[-3000:]
        assert time.monotonic() < deadline, out.read_text()[-3000:]
        time.sleep(1)
    # the log servers start with the scheduler and triggerer
    deadline = time.monotonic() + 60
    while True:
        listening = {(c.laddr.ip, c.laddr.port) for p in _tree(process.pid)
                     for c in _connections(p) if c.status == psutil.CONN_LISTEN}
        if {ports["log"], ports["trigger"]} <= {port for _, port in listening}:
            return listening
        assert time.monotonic() < deadline, listening
        time.sleep(1)


def _dbt_servers(tree: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in tree if "lumbung.dbt_server" in _cmdline(p)]


def test_lumbung_airflow_local_private_and_stops_whole(warehouse, tmp_path):
    """Also: a kill -9 of `lumbung airflow` alone leaves its Airflow session and dbt server
    running; the next start stops them and comes up on the same ports, a start beside a live
    one refuses, and SIGTERM stops the dbt server it started itself."""
    from lumbung import dbt_server
    from lumbung.config import Paths

    ports = {name: free_port() for name in ("api", "log", "trigger")}
    state = tmp_path / "state"  # its own: no dbt server answers there, so it starts one
    env = {**os.environ, "LUMBUNG_AIRFLOW_PORT": str(ports["api"]),
           "LUMBUNG_AIRFLOW_LOG_PORT": str(ports["log"]),
           "LUMBUNG_AIRFLOW_TRIGGERER_LOG_PORT": str(ports["trigger"]),
           "LUMBUNG_STATE_DIR": str(state), "LUMBUNG_WAREHOUSE_URL": warehouse.url()}
    env.pop(dbt_server.ENV, None)
    with pytest.MonkeyPatch.context() as patch:  # the service's paths, read once
        patch.setenv("LUMBUNG_STATE_DIR", str(state))
        paths = Paths.from_env()
        assert paths.state == state.resolve()
    out = tmp_path / "airflow.out"
    killed = _start(env, out)
    first_tree: list[psutil.Process] = []
    sessions: set[int] = set()
    process = killed
    try:
        _wait_up(killed, ports, out)
        first_tree = _tree(killed.pid)
        sessions = {os.getsid(p.pid) for p in first_tree} - {os.getsid(0)}  # Airflow's own
        assert _dbt_servers(first_tree) and dbt_server.available(dbt_server.socket_path(state))
        killed.kill()  # the parent only: its Airflow session and dbt server live on
        killed.wait(timeout=10)
        assert any(p.is_running() for p in first_tree[1:])

        process = _start(env, out)
        listening = _wait_up(process, ports, out)  # the same ports: the leftovers are gone
        assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE
                       for p in first_tree[1:]), [p for p in first_tree if p.is_running()]
        assert {ip for ip, _ in listening} == {"127.0.0.1"}, listening
        beside = subprocess.run([sys.executable, "-m", "lumbung.cli", "airflow"], env=env,
                                capture_output=True, text=True, timeout=60)
        assert beside.returncode == 1 and "already runs" in beside.stderr, beside.stderr

        password_file = airflow_env.passwords_file(paths)
        for secret in (paths.state / "airflow_secrets.json", password_file):
            assert secret.stat().st_mode & 0o777 == 0o600, secret
        password = json.loads(password_file.read_text())["admin"]
        jwt = json.loads((paths.state / "airflow_secrets.json").read_text())["jwt_secret"]
        assert len(jwt.encode()) >= 64
        tree = _tree(process.pid)
        assert _dbt_servers(tree)  # the one it started itself, stopped with it below
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        stop_seconds = time.monotonic() - started
        gone_by = time.monotonic() + 10
        while any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tree):
            assert time.monotonic() < gone_by, [p for p in tree if p.is_running()]
            time.sleep(0.2)
        assert not dbt_server.socket_path(state).exists()
        for port in ports.values():
            with socket.socket() as sock:  # free again (a server could listen: TIME_WAIT is fine)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("127.0.0.1", port))
        assert stop_seconds < 45, stop_seconds
        assert password not in out.read_text()
    finally:
        leftovers = [p for sid in sessions for p in service_record.session_members(sid)]
        for p in [*first_tree, *_tree(process.pid), *leftovers]:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def _connections(process: psutil.Process):
    try:
        return process.net_connections(kind="tcp")
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []
