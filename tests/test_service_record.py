"""What a `lumbung airflow` killed with kill -9 leaves, and how the next start handles it."""

from __future__ import annotations

import json
import subprocess
import sys

import psutil
import pytest

from lumbung import service_record
from lumbung.config import Paths


@pytest.fixture()
def paths(tmp_path, monkeypatch) -> Paths:
    monkeypatch.setenv("LUMBUNG_STATE_DIR", str(tmp_path / "state"))
    return Paths.from_env()


def _sleeper(**kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], **kwargs)


def _record(paths: Paths, parent: subprocess.Popen, session: subprocess.Popen,
            child: subprocess.Popen) -> None:
    def identity(p):
        return {"pid": p.pid, "started": psutil.Process(p.pid).create_time()}

    service_record.record_path(paths).parent.mkdir(parents=True)
    service_record.record_path(paths).write_text(json.dumps(
        {"parent": identity(parent), "session": identity(session), "children": [identity(child)]}))


def test_a_live_service_refuses_a_second_and_a_killed_ones_leftovers_are_stopped(paths):
    parent, child = _sleeper(), _sleeper()
    # the session's leader, and a process of its session in a group of its own (as Airflow's
    # task supervisors put their tasks)
    session = subprocess.Popen(
        [sys.executable, "-c", "import os, time\n"
         "if os.fork() == 0:\n    os.setpgid(0, 0)\n    print(os.getpid(), flush=True)\n"
         "time.sleep(120)", "lumbung-airflow-test"],  # the argument marks them as ours
        start_new_session=True, stdout=subprocess.PIPE, text=True)
    task = psutil.Process(int(session.stdout.readline()))
    try:
        _record(paths, parent, session, child)
        with pytest.raises(service_record.AlreadyRunning, match=f"pid {parent.pid}"):
            service_record.recover(paths)
        assert session.poll() is None and child.poll() is None  # nothing touched
        parent.kill()  # kill -9 of lumbung airflow alone
        parent.wait()
        stopped = service_record.recover(paths, timeout=10)
        assert set(stopped) == {session.pid, child.pid, task.pid}
        assert session.wait(timeout=5) is not None and child.wait(timeout=5) is not None
        assert not task.is_running() or task.status() == psutil.STATUS_ZOMBIE
        assert not service_record.record_path(paths).exists()
        assert service_record.recover(paths) == []  # nothing recorded, nothing to do
    finally:
        for p in (parent, child, session):
            if p.poll() is None:
                p.kill()
        if task.is_running():
            task.kill()


def test_a_reused_session_id_does_not_cost_a_stranger(paths):
    stranger = _sleeper(start_new_session=True)  # neither Airflow nor Lumbung
    try:
        service_record.record_path(paths).parent.mkdir(parents=True)
        service_record.record_path(paths).write_text(json.dumps(
            {"session": {"pid": stranger.pid, "started": 1.0}}))
        assert service_record.recover(paths) == []
        assert stranger.poll() is None
    finally:
        stranger.kill()


def test_a_reused_pid_is_not_taken_for_the_recorded_process(paths):
    other = _sleeper()
    try:
        service_record.record_path(paths).parent.mkdir(parents=True)
        service_record.record_path(paths).write_text(json.dumps({
            "parent": {"pid": other.pid, "started": 1.0},  # same pid, another start time
            "children": [{"pid": other.pid, "started": 1.0}]}))
        assert service_record.recover(paths) == []
        assert other.poll() is None
    finally:
        other.kill()
