"""What a running ``lumbung airflow`` leaves in its state folder, so that the next start can
tell a live service from the leftovers of one killed with ``kill -9``.

The record (``<state>/airflow/service.json``) names the ``lumbung airflow`` process and the
process session of its ``airflow standalone`` (scheduler, API server, DAG processor,
triggerer, their task supervisors). A SIGKILL of the parent alone leaves that session
running with its ports; a SIGKILL of the whole tree can leave the dbt server it started.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path

import psutil

from lumbung.config import Paths

log = logging.getLogger(__name__)


class AlreadyRunning(RuntimeError):
    """Another ``lumbung airflow`` is alive for this state folder."""


def record_path(paths: Paths) -> Path:
    return paths.state / "airflow" / "service.json"


def _identity(pid: int) -> dict:
    return {"pid": pid, "started": psutil.Process(pid).create_time()}


def _alive(entry: dict | None) -> bool:
    """The recorded process still runs (the same one: a reused pid has another start time)."""
    if not entry:
        return False
    try:
        process = psutil.Process(entry["pid"])
        return (abs(process.create_time() - entry["started"]) < 0.01
                and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def write(paths: Paths, session_pid: int) -> None:
    """Record this process, the session it started (its leader's pid is the session id) and
    its other children."""
    path = record_path(paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    me = psutil.Process()
    record = {
        "parent": _identity(me.pid),
        "session": _identity(session_pid),
        # the other children (the dbt server): they outlive a SIGKILL of this process
        "children": [_identity(c.pid) for c in me.children() if c.pid != session_pid],
    }
    path.write_text(json.dumps(record))


def clear(paths: Paths) -> None:
    record_path(paths).unlink(missing_ok=True)


def session_members(sid: int) -> list[psutil.Process]:
    """The live processes of session ``sid``, whatever their process group (Airflow's task
    supervisors put their tasks in groups of their own) and whether or not the session's
    leader is still there."""
    members = []
    for process in psutil.process_iter():
        try:
            if (os.getsid(process.pid) == sid and process.status() != psutil.STATUS_ZOMBIE
                    and _ours(process.cmdline())):
                members.append(process)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return members


def _ours(cmdline: list[str]) -> bool:
    """An Airflow or Lumbung process: a session id reused since the record was written
    (the leader gone, its pid taken by another session's leader) must not cost a stranger."""
    return any("airflow" in arg or "lumbung" in arg for arg in cmdline)


def recover(paths: Paths, timeout: float = 20.0) -> list[int]:
    """Before a start: refuse if the recorded ``lumbung airflow`` still runs; otherwise stop
    what a killed one left (its Airflow session, the dbt server it started) and forget
    the record. Returns the pids stopped."""
    path = record_path(paths)
    record = json.loads(path.read_text()) if path.exists() else {}
    parent = record.get("parent")
    if _alive(parent) and parent["pid"] != os.getpid():
        raise AlreadyRunning(
            f"lumbung airflow already runs for {paths.state} (pid {parent['pid']}); stop it "
            f"first (Ctrl-C in its terminal, or kill {parent['pid']})")
    session = record.get("session")
    children = [c for c in record.get("children", []) if _alive(c)]

    def leftovers() -> list[psutil.Process]:
        # scanned again each time: a dying scheduler or executor may still start processes
        found = session_members(session["pid"]) if session else []  # leader pid = session id
        seen = {p.pid for p in found}
        for c in children:
            if c["pid"] not in seen and _alive(c):
                found.append(psutil.Process(c["pid"]))
        return found

    stopped: set[int] = set()
    first = leftovers()
    if first:
        log.warning("stopping %d process(es) left running by a lumbung airflow that was killed "
                    "(pids %s)", len(first), ", ".join(str(p.pid) for p in first))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        deadline = time.monotonic() + timeout
        while (alive := leftovers()) and time.monotonic() < deadline:
            for process in alive:
                stopped.add(process.pid)
                try:
                    process.send_signal(sig)
                except psutil.NoSuchProcess:
                    pass
            psutil.wait_procs(alive, timeout=1)
        if not alive:
            break
        log.warning("%d leftover process(es) did not stop on %s", len(alive), sig.name)
    clear(paths)
    return sorted(stopped)
