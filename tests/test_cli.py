"""The lumbung command as people use it."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest


def lumbung(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lumbung.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_the_commands():
    result = lumbung("--help")
    assert result.returncode == 0
    for command in ("run", "db", "ingest", "generate", "report", "release", "dbt-server",
                    "airflow"):
        assert command in result.stdout


def test_db_status_and_urls(warehouse):
    status = lumbung("db", "status")
    assert status.returncode == 0 and "running" in status.stdout
    admin = lumbung("db", "url").stdout.strip()
    bi = lumbung("db", "url", "--role", "bi").stdout.strip()
    assert admin.startswith("postgresql://lumbung:") and bi.startswith("postgresql://lumbung_bi:")
    with psycopg.connect(bi) as conn:
        assert conn.execute("select current_user").fetchone()[0] == "lumbung_bi"


def test_bi_role_reads_every_mart_and_creates_nothing(warehouse):
    bi = lumbung("db", "url", "--role", "bi").stdout.strip()
    with psycopg.connect(warehouse.url()) as admin:
        marts = [r[0] for r in admin.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'")]
    with psycopg.connect(bi, autocommit=True) as conn:
        for mart in marts:
            conn.execute(f'select * from marts."{mart}" limit 1')
        for statement in ("create temporary table t (x int)", "create table marts.t (x int)",
                          "create table public.t (x int)", "create schema t",
                          "select * from audit.load_batches limit 1"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_external_url_replaces_the_embedded_server(warehouse, monkeypatch):
    monkeypatch.setenv("LUMBUNG_WAREHOUSE_URL", warehouse.url())
    result = lumbung("db", "url")
    assert result.stdout.strip() == warehouse.url()
    assert "not the embedded server" in lumbung("db", "stop").stdout


def test_dbt_server_serves_until_stopped_and_keeps_its_socket_to_itself(tmp_path):
    """`lumbung dbt-server`, as docker-compose.yml runs it: it serves dbt and logs each
    build, a second one on the same socket refuses, and a stop signal ends the first and
    removes its socket."""
    import signal

    from lumbung import dbt_server

    sock = tmp_path / "dbt.sock"
    server = subprocess.Popen([sys.executable, "-m", "lumbung.cli", "dbt-server", "--socket",
                               str(sock)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        assert dbt_server.wait_ready(sock, server)
        assert sock.stat().st_mode & 0o077 == 0  # the requests carry the warehouse password
        lines: list[str] = []
        assert dbt_server.run(sock, ["--help"], {}, str(tmp_path), lines.append) == 0
        assert any(line.startswith("Usage:") for line in lines)  # dbt's own help
        second = lumbung("dbt-server", "--socket", str(sock))
        assert second.returncode == 1
        assert "already answers" in second.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    assert f"LUMBUNG_DBT_SERVER={sock}" in server.stdout.read()
    log = server.stderr.read()
    assert "dbt --help (pid" in log and "exit 0 after" in log  # one line per build
    assert not sock.exists()
