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
from conftest import free_port

from lumbung import airflow_env
from lumbung.airflow_env import process_tree as _tree


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health",
                                    timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_lumbung_airflow_local_private_and_stops_whole(paths, warehouse, tmp_path):
    ports = {name: free_port() for name in ("api", "log", "trigger")}
    # the session's landing folder stays as the other tests left it
    env = {**os.environ, "LUMBUNG_AUTO_GENERATE": "0",
           "LUMBUNG_AIRFLOW_PORT": str(ports["api"]),
           "LUMBUNG_AIRFLOW_LOG_PORT": str(ports["log"]),
           "LUMBUNG_AIRFLOW_TRIGGERER_LOG_PORT": str(ports["trigger"])}
    out = tmp_path / "airflow.out"
    with out.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "lumbung.cli", "airflow"], env=env,
                                   stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
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
                break
            assert time.monotonic() < deadline, listening
            time.sleep(1)
        assert {ip for ip, _ in listening} == {"127.0.0.1"}, listening

        password_file = airflow_env.passwords_file(paths)
        for secret in (paths.state / "airflow_secrets.json", password_file):
            assert secret.stat().st_mode & 0o777 == 0o600, secret
        password = json.loads(password_file.read_text())["admin"]
        jwt = json.loads((paths.state / "airflow_secrets.json").read_text())["jwt_secret"]
        assert len(jwt.encode()) >= 64
        tree = _tree(process.pid)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        stop_seconds = time.monotonic() - started
        gone_by = time.monotonic() + 10
        while any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tree):
            assert time.monotonic() < gone_by, [p for p in tree if p.is_running()]
            time.sleep(0.2)
        for port in ports.values():
            with socket.socket() as sock:  # free again (a server could listen: TIME_WAIT is fine)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("127.0.0.1", port))
        assert stop_seconds < 45, stop_seconds
        assert password not in out.read_text()
    finally:
        if process.poll() is None:
            process.kill()
        for p in _tree(process.pid):
            p.kill()


def _connections(process: psutil.Process):
    try:
        return process.net_connections(kind="tcp")
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []
