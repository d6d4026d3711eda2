"""`lumbung bi`: Apache Superset over the marts, with the dashboards kept in bi/dashboards/.

Superset lives in an environment of its own (.venv-bi, locked by bi/uv.lock): it cannot share
Airflow's. This module checks what can be checked cheaply from Lumbung's side (port free,
the BI role's password accepted, every mart a dashboard reads published), writes Superset's
configuration into the state folder, then hands over to bi/superset_tasks.py in Superset's
Python, which migrates, imports the dashboards in one transaction and serves.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
import yaml

from lumbung.airflow_env import write_private
from lumbung.config import BI_ROLE, Paths, PgUrl

DEFAULT_PORT = 8088
HOST = "127.0.0.1"
SECRETS_FILE = "superset_secrets.json"


class BiError(RuntimeError):
    """Something the operator must fix before Superset can start; the message says what."""


def bi_port() -> int:
    return int(os.environ.get("LUMBUNG_BI_PORT", DEFAULT_PORT))


def bi_host() -> str:
    """127.0.0.1; a container sets LUMBUNG_BI_HOST=0.0.0.0 and publishes it on loopback."""
    return os.environ.get("LUMBUNG_BI_HOST", HOST)


def bundle_dir(paths: Paths) -> Path:
    return paths.root / "bi" / "dashboards"


def state_dir(paths: Paths) -> Path:
    return paths.state / "superset"


def python(paths: Paths) -> Path:
    """Superset's own interpreter (`make bi-setup` creates it)."""
    venv = Path(os.environ.get("LUMBUNG_BI_VENV", paths.root / ".venv-bi"))
    return venv / "bin" / "python"


def superset_secrets(paths: Paths) -> dict[str, str]:
    """Superset's secret key (signs sessions, encrypts the stored connection) and the admin
    password: generated once, kept 0600 beside the warehouse's secrets."""
    given = {"secret_key": os.environ.get("LUMBUNG_BI_SECRET_KEY"),
             "admin_password": os.environ.get("LUMBUNG_BI_ADMIN_PASSWORD")}
    if all(given.values()):  # docker-compose passes them from .env
        return given
    path = paths.state / SECRETS_FILE
    known = json.loads(path.read_text()) if path.exists() else {}
    if not {"secret_key", "admin_password"} <= known.keys():
        known.setdefault("secret_key", secrets.token_urlsafe(48))
        known.setdefault("admin_password", secrets.token_urlsafe(16))
        write_private(path, known)
    elif path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return known


def required_marts(bundle: Path) -> list[str]:
    """`schema.table` of every physical dataset, and `marts` is the only schema allowed."""
    tables = []
    for path in sorted((bundle / "datasets").rglob("*.yaml")):
        dataset = yaml.safe_load(path.read_text(encoding="utf-8"))
        if dataset.get("sql"):
            continue
        if dataset["schema"] != "marts":
            raise BiError(f"{path.name} reads {dataset['schema']}.{dataset['table_name']}: "
                          "dashboards read only the marts schema")
        tables.append(f"marts.{dataset['table_name']}")
    return tables


def check_port(port: int) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((bi_host(), port))
        except OSError as err:
            raise BiError(f"port {port} on {bi_host()} is in use ({err.strerror}): stop what "
                          "listens there or choose another port with LUMBUNG_BI_PORT") from None


def check_warehouse(bi: PgUrl, tables: list[str]) -> None:
    """The BI role can log in and every mart the dashboards read is published."""
    try:
        conn = psycopg.connect(bi.url(), connect_timeout=10)
    except psycopg.OperationalError as err:
        if "password authentication failed" in str(err):
            raise BiError(f"the warehouse refused the password of {BI_ROLE}: set "
                          "LUMBUNG_BI_PASSWORD to the role's password (unset, the one in the "
                          "state folder's secrets.json), or run the pipeline first (make run) "
                          "if it never ran on this warehouse") from None
        raise BiError(f"cannot reach the warehouse at {bi.host}:{bi.port} as {BI_ROLE}: "
                      f"{str(err).strip().splitlines()[-1]}") from None
    with conn:
        missing = [t for t in tables
                   if conn.execute("select to_regclass(%s)", (t,)).fetchone()[0] is None]
    if missing:
        raise BiError(f"the warehouse has no {', '.join(missing)} yet: run the pipeline "
                      "first (make run), then make bi")


def write_config(paths: Paths) -> Path:
    """superset_config.py in the state folder; secrets come from the environment."""
    folder = state_dir(paths)
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "superset_config.py"
    config.write_text(
        '"""Written by `lumbung bi` (src/lumbung/bi.py) on every start: edit that, not this."""\n'
        "import os\n"
        "import sys\n\n"
        f"sys.path.insert(0, {str(paths.root / 'bi')!r})\n"
        "# Superset's event log written once per request; SQLite with a write-ahead log and\n"
        "# a pool of open connections; the warehouse's connections kept; each warehouse\n"
        "# query's time in a Server-Timing header (bi/superset_hooks.py)\n"
        "from superset_hooks import (DB_CONNECTION_MUTATOR, EVENT_LOGGER,\n"
        "                            SQLALCHEMY_ENGINE_OPTIONS,\n"
        "                            flask_app_mutator as FLASK_APP_MUTATOR)\n\n"
        "SECRET_KEY = os.environ['SUPERSET_SECRET_KEY']\n"
        f"SQLALCHEMY_DATABASE_URI = {('sqlite:///' + str(folder / 'superset.db'))!r}\n"
        "# Charts' results cached on disk: a dashboard opened again does not query again.\n"
        "DATA_CACHE_CONFIG = {'CACHE_TYPE': 'FileSystemCache', "
        f"'CACHE_DIR': {str(folder / 'cache')!r}, 'CACHE_DEFAULT_TIMEOUT': 86400}}\n"
        "FEATURE_FLAGS = {'DASHBOARD_NATIVE_FILTERS': True}\n"
        "# Offline: no map tiles; deck.gl maps draw the boundaries alone.\n"
        "MAPBOX_API_KEY = ''\n"
        "SUPERSET_WEBSERVER_ADDRESS = '127.0.0.1'\n"
        "RATELIMIT_STORAGE_URI = 'memory://'\n"
        "PREVENT_UNSAFE_DB_CONNECTIONS = False\n"
        "SQLLAB_CTAS_NO_LIMIT = True\n",
        encoding="utf-8",
    )
    return config


def superset_env(paths: Paths, bi: PgUrl) -> dict[str, str]:
    found = superset_secrets(paths)
    folder = state_dir(paths)
    return {
        **os.environ,
        "SUPERSET_CONFIG_PATH": str(write_config(paths)),
        "SUPERSET_HOME": str(folder),
        "SUPERSET_SECRET_KEY": found["secret_key"],
        "LUMBUNG_BI_ADMIN_PASSWORD": found["admin_password"],
        "LUMBUNG_BI_SQLALCHEMY_URI": bi.url("postgresql+psycopg2"),
        "LUMBUNG_BI_STATE": str(folder),
        "FLASK_APP": "superset.app:create_app()",
    }


@dataclass
class Superset:
    """One `superset_tasks.py` invocation's command line and environment."""

    argv: list[str]
    env: dict[str, str]

    def run(self) -> dict:
        """Run to the end; its last JSON line is the outcome."""
        done = subprocess.run(self.argv, env=self.env, capture_output=True, text=True)
        return _outcome(done.returncode, done.stdout, done.stderr)


def _outcome(returncode: int, stdout: str, stderr: str) -> dict:
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    outcome = json.loads(lines[-1]) if lines else {}
    if returncode != 0 or "error" in outcome:
        detail = outcome.get("error") or (stderr.strip().splitlines() or ["no output"])[-1]
        raise BiError(f"Superset failed: {detail}")
    return outcome


def superset(paths: Paths, warehouse: PgUrl, action: str, *extra: str) -> Superset:
    """Checked and configured: the command that runs ``action`` in Superset's Python."""
    from lumbung.warehouse import bi_url

    exe = python(paths)
    if not exe.exists():
        raise BiError(f"Superset is not installed ({exe} is missing): run make bi, which "
                      "installs it into .venv-bi")
    bundle = bundle_dir(paths)
    bi = bi_url(paths, warehouse)
    check_warehouse(bi, required_marts(bundle))
    script = paths.root / "bi" / "superset_tasks.py"
    return Superset([str(exe), str(script), action, "--bundle", str(bundle), *extra],
                    superset_env(paths, bi))


def login_hint(paths: Paths, port: int) -> str:
    return (f"Superset on http://{HOST}:{port}/ : user admin, password in "
            f"{paths.state / SECRETS_FILE} (admin_password)")


def log_in_browser(page, url: str, password: str, attempts: int = 3) -> bool:
    """Log a Playwright ``page`` in to Superset at ``url`` as admin (the browser test and
    bench/bench_bi_charts.py); whether it worked within ``attempts``. The login page is a
    script-built form: on a loaded machine a key press can come before its handlers (and
    its own event-log request, answered after the login, can hand back a session cookie
    without the user), so the login page comes back; then it is tried again, fully loaded."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(attempts):
        page.goto(f"{url}/login/")
        page.wait_for_load_state("networkidle")
        page.fill("input[name=username], #username", "admin")
        page.fill("input[name=password], #password", password)
        page.keyboard.press("Enter")
        try:
            page.wait_for_url("**/superset/welcome/**", timeout=60_000)
            return True
        except PlaywrightTimeout:
            continue
    return False


def wait_healthy(process: subprocess.Popen, port: int, stopping: list[int],
                 timeout: float = 300.0) -> bool:
    """Wait until Superset's ``/health`` answers 200 on ``port`` (gunicorn's workers have
    loaded Superset), while the server runs and nobody asked to stop."""
    import http.client
    import time

    deadline = time.monotonic() + timeout
    while process.poll() is None and not stopping and time.monotonic() < deadline:
        conn = http.client.HTTPConnection(bi_host(), port, timeout=5)
        try:
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.5)
    return False


def serve(paths: Paths, warehouse: PgUrl, port: int, extra: list[str]) -> int:
    """Set up, then serve until Ctrl-C or SIGTERM (which stop the whole process tree)."""
    import shutil
    import signal
    import sys
    import threading
    import time

    from lumbung.airflow_env import stop_tree

    job = superset(paths, warehouse, "serve", "--host", bi_host(), "--port", str(port), *extra)
    stopping: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda sig, frame: stopping.append(sig))
    process = subprocess.Popen(job.argv, env=job.env, stdout=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        ready = ""
        for line in process.stdout:  # Superset prints a few lines of its own first
            if line.startswith("{"):
                ready = line
                break
            sys.stderr.write(line)
        if not ready:
            process.wait()
            raise BiError(f"Superset stopped before serving (exit {process.returncode}); "
                          "its log is above")
        outcome = _outcome(0, ready, "")
        # keep its output flowing: a full pipe would stop the server
        threading.Thread(target=shutil.copyfileobj, args=(process.stdout, sys.stderr),
                         daemon=True).start()
        if not wait_healthy(process, port, stopping):
            if stopping:
                return 128 + stopping[0]
            raise BiError(f"Superset set up but did not answer on port {port} "
                          f"(exit {process.poll()}); its log is above")
        print(f"{outcome['ready']}. {login_hint(paths, port)}. Ctrl-C stops.", flush=True)
        while process.poll() is None and not stopping:
            time.sleep(0.2)
    finally:
        stop_tree(process)
    if stopping:
        return 128 + stopping[0]
    print(f"Superset stopped (exit {process.returncode})", file=sys.stderr)
    return process.returncode
