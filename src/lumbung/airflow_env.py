"""Airflow's configuration for this installation, as environment variables.

Airflow reads its configuration when it is first imported, so callers apply these variables
before importing anything from ``airflow``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from lumbung.config import WAREHOUSE_CONN_ID, Paths, PgUrl
from lumbung.warehouse import airflow_db_url, ensure_database

log = logging.getLogger(__name__)


HOST = "127.0.0.1"
# A task's supervisor heartbeats every few seconds whatever the task does; a minute of
# silence means it died (killed, OOM), and its task is failed and retried then.
HEARTBEAT_TIMEOUT_S = 60
_MIN_SECRET_BYTES = 64  # HS512 wants a key at least as long as its 64-byte block


def write_private(path: Path, data: dict) -> None:
    """Write ``data`` as JSON readable by its owner only (0600 from creation on)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    path.chmod(0o600)


def _airflow_secret(paths: Paths, name: str) -> str:
    """A per-installation secret Airflow needs (JWT signing), kept beside the others;
    one shorter than its algorithm wants is replaced."""
    path = paths.state / "airflow_secrets.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    if len(known.get(name, "").encode()) < _MIN_SECRET_BYTES:
        known[name] = secrets.token_urlsafe(_MIN_SECRET_BYTES)
        write_private(path, known)
    elif path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return known[name]


def passwords_file(paths: Paths) -> Path:
    return paths.airflow_home / "simple_auth_manager_passwords.json.generated"


def _ensure_passwords(paths: Paths) -> Path:
    """The UI's admin password, generated here into a 0600 file (Airflow would write it
    world-readable and print it)."""
    path = passwords_file(paths)
    known = json.loads(path.read_text() or "{}") if path.exists() else {}
    if "admin" not in known:
        known["admin"] = secrets.token_urlsafe(16)
        write_private(path, known)
    else:
        path.chmod(0o600)
    return path


def airflow_environ(paths: Paths, warehouse: PgUrl) -> dict[str, str]:
    metadata = airflow_db_url(warehouse)
    port = os.environ.get("LUMBUNG_AIRFLOW_PORT", "8080")
    log_port = os.environ.get("LUMBUNG_AIRFLOW_LOG_PORT", "8793")
    trigger_log_port = os.environ.get("LUMBUNG_AIRFLOW_TRIGGERER_LOG_PORT", "8794")
    return {
        "LUMBUNG_HOME": str(paths.root),
        "AIRFLOW_HOME": str(paths.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(paths.dags),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(paths.plugins),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata.url("postgresql+psycopg2"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(paths.airflow_home / "logs"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": port,
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": _airflow_secret(paths, "jwt_secret"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(_ensure_passwords(paths)),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": log_port,
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": trigger_log_port,
        # the log servers listen on HOST only (see serve_logs_local): tasks say they ran there
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "lumbung.airflow_env.local_hostname",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
        "AIRFLOW_CONN_" + WAREHOUSE_CONN_ID.upper(): warehouse.url(),
    }


def apply(paths: Paths, warehouse: PgUrl) -> dict[str, str]:
    env = airflow_environ(paths, warehouse)
    os.environ.update(env)
    paths.airflow_home.mkdir(parents=True, exist_ok=True)
    return env


def airflow_executable() -> str:
    candidate = Path(sys.executable).parent / "airflow"
    return str(candidate) if candidate.exists() else "airflow"


def migrate_metadata(paths: Paths, warehouse: PgUrl) -> None:
    """Create Airflow's metadata database if needed and bring its schema up to date.

    Call after ``apply``: the check runs in this process (Airflow reads its configuration
    from the environment on first import); the migration itself runs as ``airflow db
    migrate``, the supported way to migrate.
    """
    metadata = airflow_db_url(warehouse)
    ensure_database(warehouse, metadata.dbname)
    from airflow.utils.db import check_migrations

    try:
        check_migrations(timeout=1)
        ensure_pools()
        return
    except TimeoutError:
        pass
    log.info("migrating Airflow's metadata database %s (first run takes a while)", metadata.dbname)
    result = subprocess.run(
        [airflow_executable(), "db", "migrate"], env=os.environ.copy(), capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stderr[-3000:]}")
    ensure_pools()


# The one slot every dbt build task takes (the region marts' and the indicator marts'): the
# scheduler never runs two dbt builds at once, so no two builds touch the project's
# relations or its target folder together. A task of a pool that does not exist is never
# scheduled, so the pool is created with the metadata database.
DBT_POOL = "lumbung_dbt"


def ensure_pools() -> None:
    """Create (or set back to one slot) the pool of the dbt build tasks."""
    from airflow.models.pool import Pool

    Pool.create_or_update_pool(DBT_POOL, 1, "dbt builds, one at a time (lumbung)",
                               include_deferred=False)


def local_hostname() -> str:
    """Airflow's ``[core] hostname_callable``: where the API server fetches live task logs."""
    return HOST


def serve_logs_local(port: int | None = None) -> None:
    """Airflow's log server bound to HOST (Airflow's own binds every interface, with no
    setting to change it)."""
    import uvicorn
    from airflow.utils.serve_logs import core

    real_run = uvicorn.run

    def run(app, **kwargs):
        kwargs["host"] = HOST
        return real_run(app, **kwargs)

    uvicorn.run = run
    core.serve_logs(port)


def shim_dir(paths: Paths) -> Path:
    """A folder with an ``airflow`` command that runs :func:`airflow_main`, put first on the
    PATH of ``airflow standalone`` (it starts its components as ``airflow`` from PATH)."""
    folder = paths.state / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "airflow"
    text = f'#!/bin/sh\nexec "{sys.executable}" -m lumbung.airflow_env "$@"\n'
    if not shim.exists() or shim.read_text() != text:
        shim.write_text(text)
        shim.chmod(0o755)
    return folder


def airflow_main() -> None:
    """The ``airflow`` command, its log servers on HOST. The scheduler first imports the
    libraries of the tasks: its LocalExecutor workers are forks of it, and every task's
    process a fork of a worker, so no task imports Great Expectations again."""
    import airflow.utils.serve_logs
    from airflow.__main__ import main

    if sys.argv[1:2] == ["scheduler"]:
        from lumbung.preload import preload

        preload()
    airflow.utils.serve_logs.serve_logs = serve_logs_local
    main()


def process_tree(pid: int) -> list:
    """``pid`` and its descendants as psutil processes (none if it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop_tree(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM the process group of ``process`` (a session leader) and every descendant,
    SIGKILL what remains after ``timeout`` seconds."""
    import psutil

    tree = process_tree(process.pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        for proc in tree:
            try:
                proc.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process.poll()
            alive = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
            try:
                os.killpg(process.pid, 0)
                group = process.returncode is None
            except ProcessLookupError:
                group = False
            if not alive and not group:
                return
            time.sleep(0.2)
        log.warning("Airflow did not stop within %.0f s: killing it", timeout)
    process.wait()


if __name__ == "__main__":
    airflow_main()
