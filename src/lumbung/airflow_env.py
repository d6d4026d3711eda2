"""Airflow's configuration for this installation, as environment variables.

Airflow reads its configuration when it is first imported, so callers apply these variables
before importing anything from ``airflow``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

from lumbung.config import WAREHOUSE_CONN_ID, Paths, PgUrl
from lumbung.warehouse import airflow_db_url, ensure_database

log = logging.getLogger(__name__)


def _airflow_secret(paths: Paths, name: str) -> str:
    """A per-installation secret Airflow needs (JWT signing), kept beside the others."""
    path = paths.state / "airflow_secrets.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    if name not in known:
        known[name] = secrets.token_urlsafe(32)
        paths.state.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(known, fh)
    return known[name]


def airflow_environ(paths: Paths, warehouse: PgUrl) -> dict[str, str]:
    metadata = airflow_db_url(warehouse)
    port = os.environ.get("LUMBUNG_AIRFLOW_PORT", "8080")
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
