"""The project's own PostgreSQL: lifecycle, crash recovery, and behaviour as root."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from conftest import free_port

from lumbung.config import PgUrl
from lumbung.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError


@pytest.fixture()
def reachable_dir():
    """A temp dir the service user can reach (pytest's own tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="lumbung-pg-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture()
def server(reachable_dir):
    pg = EmbeddedPostgres(reachable_dir / "pg" / "data", free_port(), "tester", "secret-pw")
    yield pg
    pg.stop()


def _select_one(pg: EmbeddedPostgres) -> int:
    url = PgUrl("tester", "secret-pw", "127.0.0.1", pg.port, "postgres").url()
    with psycopg.connect(url) as conn:
        return conn.execute("select 1").fetchone()[0]


def test_start_status_stop(server):
    assert not server.status().running
    status = server.start()
    assert status.running and status.port == server.port
    assert _select_one(server) == 1
    assert server.start().pid == status.pid  # starting twice is harmless
    assert not server.stop().running
    with pytest.raises(psycopg.OperationalError):
        _select_one(server)


def test_listens_on_loopback_only_with_password(server):
    server.start()
    url = PgUrl("tester", "wrong", "127.0.0.1", server.port, "postgres").url()
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(url)
    settings = (server.pgdata / "postmaster.pid").read_text().splitlines()
    assert settings[5].strip() == "127.0.0.1"


def test_recovers_from_a_crash(server):
    pid = server.start().pid
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while server.status().running and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (server.pgdata / "postmaster.pid").exists()  # the stale pid file stays behind
    assert not server.status().running
    assert server.start().running
    assert _select_one(server) == 1


def test_ignores_pid_file_pointing_at_another_program(server):
    server.start()
    server.stop()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lines = [str(sleeper.pid), str(server.pgdata), "0", str(server.port), "", "127.0.0.1",
                 "0 0", "ready"]
        (server.pgdata / "postmaster.pid").write_text("\n".join(lines) + "\n")
        assert not server.status().running
        assert server.start().running
        assert _select_one(server) == 1
    finally:
        sleeper.kill()


def test_port_taken_gives_a_clear_error(server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", server.port))
        sock.listen()
        with pytest.raises(EmbeddedPostgresError, match="LUMBUNG_PG_PORT"):
            server.start()


@pytest.mark.skipif(os.geteuid() != 0, reason="the service-user path only exists as root")
def test_as_root_refuses_unreachable_data_dir_without_opening_permissions(reachable_dir):
    hidden = reachable_dir / "private"
    hidden.mkdir(mode=0o700)
    pg = EmbeddedPostgres(hidden / "pg" / "data", free_port(), "tester", "pw")
    with pytest.raises(EmbeddedPostgresError, match="LUMBUNG_PGDATA"):
        pg.start()
    assert (hidden.stat().st_mode & 0o777) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="the fallback only exists as root")
def test_as_root_a_private_checkout_keeps_its_cluster_under_var_lib(reachable_dir, monkeypatch):
    from lumbung.config import Paths
    from lumbung.warehouse import CLUSTERS_ROOT, embedded_pgdata

    private = reachable_dir / "home"
    private.mkdir(mode=0o700)
    monkeypatch.delenv("LUMBUNG_PGDATA", raising=False)
    monkeypatch.setenv("LUMBUNG_STATE_DIR", str(private / "repo" / ".lumbung"))
    chosen = embedded_pgdata(Paths(private / "repo"))
    assert chosen.is_relative_to(CLUSTERS_ROOT)
    monkeypatch.setenv("LUMBUNG_STATE_DIR", str(reachable_dir / ".lumbung"))
    assert embedded_pgdata(Paths(reachable_dir)) == reachable_dir / ".lumbung" / "postgres" / "data"
