"""The lumbung command as people use it."""

from __future__ import annotations

import subprocess
import sys

import psycopg


def lumbung(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lumbung.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_the_commands():
    result = lumbung("--help")
    assert result.returncode == 0
    for command in ("run", "db", "airflow"):
        assert command in result.stdout


def test_db_status_and_urls(warehouse):
    status = lumbung("db", "status")
    assert status.returncode == 0 and "running" in status.stdout
    admin = lumbung("db", "url").stdout.strip()
    bi = lumbung("db", "url", "--role", "bi").stdout.strip()
    assert admin.startswith("postgresql://lumbung:") and bi.startswith("postgresql://lumbung_bi:")
    with psycopg.connect(bi) as conn:
        assert conn.execute("select current_user").fetchone()[0] == "lumbung_bi"


def test_external_url_replaces_the_embedded_server(warehouse, monkeypatch):
    monkeypatch.setenv("LUMBUNG_WAREHOUSE_URL", warehouse.url())
    result = lumbung("db", "url")
    assert result.stdout.strip() == warehouse.url()
    assert "not the embedded server" in lumbung("db", "stop").stdout
