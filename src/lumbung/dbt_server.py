"""A dbt fork server: dbt is imported once, and each invocation runs in a fork of it.

Importing dbt costs 2.5 to 6 seconds on the machines we measured, as much as the whole work
of a selective marts rebuild. The server imports dbt and the Postgres adapter, then waits on
a Unix socket. Each request forks it: the child starts from dbt imported but never invoked,
so an invocation has dbt's global state (flags, adapters, event manager) to itself, as in a
new process, without the import. The server also decodes the saved manifest the request's
dbt will read (:class:`SavedManifests`), so the child does not decode it again.
``lumbung.dbt_runner`` uses the server named by ``LUMBUNG_DBT_SERVER`` and runs dbt in a
new process when there is none, or it does not answer. ``lumbung run`` and
``lumbung airflow`` start one for their duration; ``docker-compose.yml`` runs one beside
the Airflow worker.

Protocol, one request per connection: the client sends one JSON line
``{"args": [...], "env": {...}, "cwd": "..."}``, which the server reads; the child runs
``lumbung.dbt_main`` with them, its standard output and error being the connection, and
ends with the line ``\\0exit <status>``. A client that goes away ends its child.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

ENV = "LUMBUNG_DBT_SERVER"
_STATUS = b"\0exit "
_LISTEN_BACKLOG = 16
_PATH_MAX = 100  # sun_path holds 108 bytes
_STOP_CHECK_S = 0.5
_REQUEST_WAIT_S = 10.0  # a client sends its request as soon as it connects


class ServerUnavailable(OSError):
    """No dbt server answers at the socket."""


def socket_path(state: Path) -> Path:
    """Where a server for this state folder listens (a short temporary path when the
    folder's own is too long for a Unix socket)."""
    path = state / "dbt" / "server.sock"
    if len(str(path)) <= _PATH_MAX:
        return path
    return Path(tempfile.mkdtemp(prefix="lumbung-dbt-")) / "server.sock"


# The classes whose JSON schema dbt builds to validate a project, its profile and selectors
# at every invocation: built once here (a class-level cache), each fork inherits it.
_VALIDATED = ("dbt.contracts.project:Project", "dbt.contracts.project:ProjectFlags",
              "dbt.contracts.project:ProfileConfig", "dbt.contracts.project:Configuration",
              "dbt.contracts.project:PackageConfig", "dbt.contracts.selection:SelectorFile",
              "dbt.adapters.postgres.connections:PostgresCredentials")


def _preload() -> None:
    # The adapter too: dbt imports it at each invocation otherwise.
    import importlib

    import dbt.adapters.postgres
    import dbt.cli.main
    import dbt.parser.manifest  # noqa: F401

    import lumbung.dbt_main  # noqa: F401

    for name in _VALIDATED:
        module, _, cls = name.partition(":")
        getattr(importlib.import_module(module), cls).json_schema()


class SavedManifests:
    """dbt's saved manifests (``partial_parse.msgpack`` in a request's target folder),
    decoded in the server so that a fork does not decode them again.

    dbt reads the file at every invocation and decodes it before it checks whether the
    project changed (about half a second for this project). The server decodes the file
    when it is new or rewritten; the fork gets that object when the bytes dbt reads are the
    very bytes decoded (anything else is decoded by dbt as usual), so dbt's own checks of
    the saved manifest against the project run unchanged."""

    def __init__(self) -> None:
        self._saved: dict[Path, tuple[tuple[int, int, int], bytes, object]] = {}

    def refresh(self, args: list[str], cwd: str) -> tuple[bytes, object] | None:
        """The decoded manifest the request's dbt will read, decoding it when it changed."""
        from lumbung.dbt_main import target_path

        target = target_path(args)
        if target is None:
            return None
        path = Path(cwd, target) / "partial_parse.msgpack"
        try:
            stat = path.stat()
        except OSError:
            self._saved.pop(path, None)
            return None
        key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        saved = self._saved.get(path)
        if saved is None or saved[0] != key:
            from dbt.contracts.graph.manifest import Manifest
            from dbt.parser.manifest import extended_mashumuro_decoder

            data = path.read_bytes()
            try:
                manifest = Manifest.from_msgpack(data, decoder=extended_mashumuro_decoder)
            except Exception:  # dbt decodes it itself, and says why it cannot
                log.debug("cannot decode %s", path, exc_info=True)
                self._saved.pop(path, None)
                return None
            manifest._lock = None  # a lock of the server's would be shared by its forks
            if not self._saved:
                # dbt writes every node out at each invocation (the flat graph) with code it
                # generates at the first use: generated here once, on a copy left unused.
                copy = Manifest.from_msgpack(data, decoder=extended_mashumuro_decoder)
                copy.build_flat_graph()
                copy._lock = None
            saved = self._saved[path] = (key, data, manifest)
        return saved[1], saved[2]


used: list[bool] = []  # in a fork: whether dbt took the manifest the server decoded


def _use_saved(data: bytes, manifest: object) -> None:
    """In a fork: dbt's decoding of exactly ``data`` gives ``manifest`` (once)."""
    from dbt.contracts.graph.manifest import Manifest
    from dbt.mp_context import get_mp_context

    decode = Manifest.from_msgpack
    unused = [manifest]

    def from_msgpack(cls, raw, *args, **kwargs):
        if unused and raw == data:
            found = unused.pop()
            found._lock = get_mp_context().Lock()  # as dbt's own decoding gives it
            used.append(True)
            return found
        return decode(raw, *args, **kwargs)

    Manifest.from_msgpack = classmethod(from_msgpack)


def serve(path: Path) -> None:
    """Serve dbt invocations at ``path`` until SIGTERM or SIGINT."""
    if available(path):
        raise RuntimeError(f"a dbt server already answers at {path}: use it "
                           f"({ENV}={path}) or stop it first")
    started = time.perf_counter()
    _preload()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # left by a server that was killed
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o077)  # the requests carry the warehouse password
    try:
        listener.bind(str(path))
    finally:
        os.umask(old_umask)
    listener.listen(_LISTEN_BACKLOG)
    # A signal only sets the flag: raised from a handler, it could land inside os.fork()'s
    # own handlers, which swallow it, and the server would never stop.
    listener.settimeout(_STOP_CHECK_S)
    stopping: list[int] = []
    manifests = SavedManifests()

    def stop(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # The kernel reaps the children: the server never waits for a build.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    log.info("dbt server ready at %s (dbt imported in %.1f s)", path,
             time.perf_counter() - started)
    try:
        while not stopping:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            request = _read_request(conn)
            if request is None:  # a probe (see available), or a client already gone
                conn.close()
                continue
            try:
                saved = manifests.refresh(request["args"], request["cwd"])
            except Exception:  # dbt reads the file itself, and says what is wrong with it
                log.warning("could not read dbt's saved manifest", exc_info=True)
                saved = None
            sys.stdout.flush()  # or the child would write it again
            sys.stderr.flush()
            if os.fork() == 0:
                listener.close()
                _child(conn, request, saved)  # never returns
            conn.close()
        log.info("dbt server at %s stopping", path)
    finally:
        listener.close()
        path.unlink(missing_ok=True)


def _read_request(conn: socket.socket) -> dict | None:
    """The request line a client sends on connecting; None for a probe (no line)."""
    conn.settimeout(_REQUEST_WAIT_S)
    try:
        with conn.makefile("rb") as stream:
            line = stream.readline()
        request = json.loads(line) if line else None
    except (OSError, ValueError) as error:
        log.warning("a dbt server client sent no request it could read: %s", error)
        return None
    finally:
        conn.settimeout(None)
    return request


def _child(conn: socket.socket, request: dict, saved: tuple[bytes, object] | None) -> None:
    """Run ``request`` in this forked child, then exit with dbt's status."""
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
    started = time.perf_counter()
    status, command = 2, "?"
    finished = threading.Event()
    server_log = os.dup(2)  # the server's log, where each build ends with one line
    try:
        command = " ".join(request["args"][:1])
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for fd in (1, 2):
            os.dup2(conn.fileno(), fd)
        sys.stdout.reconfigure(line_buffering=True)  # each line as dbt logs it
        threading.Thread(target=_end_when_client_leaves,
                         args=(conn, finished, server_log, command), daemon=True).start()
        if saved is not None:
            _use_saved(*saved)
        from lumbung.dbt_main import main

        status = main(request["args"])
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
            # as a process ending normally: dbt's locks unregister from multiprocessing
            atexit._run_exitfuncs()
            finished.set()
            conn.sendall(_STATUS + f"{status}\n".encode())
            _log_line(server_log, f"dbt {command} (pid {os.getpid()}) exit {status} after "
                      f"{time.perf_counter() - started:.1f} s"
                      + (" (saved manifest decoded by the server)" if used else ""))
        os._exit(status)


def _log_line(fd: int, message: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    os.write(fd, f"{stamp} INFO {message}\n".encode())


def _end_when_client_leaves(conn: socket.socket, finished: threading.Event, server_log: int,
                            command: str) -> None:
    # The client sends nothing after its request: readable means it closed the connection
    # (its task was killed, say); the build it asked for is then no one's.
    with contextlib.suppress(OSError):
        conn.recv(1)
    if finished.is_set():  # it closed after the status: the build is over anyway
        return
    with contextlib.suppress(OSError):
        _log_line(server_log, f"dbt {command} (pid {os.getpid()}): its client left, ending it")
    os._exit(143)


def invoke(path: Path, args: list[str], env: dict[str, str], cwd: str) -> Iterator[str]:
    """Run ``lumbung.dbt_main <args>`` in the server at ``path``; yields its output lines,
    and returns its exit status (``StopIteration.value``; see :func:`run`)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError as error:
        conn.close()
        raise ServerUnavailable(f"no dbt server at {path}: {error}") from error
    with conn:
        request = {"args": args, "env": env, "cwd": cwd}
        conn.sendall(json.dumps(request).encode() + b"\n")
        with conn.makefile("rb") as stream:
            for raw in stream:
                if raw.startswith(_STATUS):
                    return int(raw[len(_STATUS):])
                yield raw.decode("utf-8", errors="replace").rstrip("\r\n")
    return -1  # the child died without a status (killed)


def run(path: Path, args: list[str], env: dict[str, str], cwd: str,
        on_line: Callable[[str], None]) -> int:
    """:func:`invoke`, each output line given to ``on_line``; returns the exit status."""
    lines = invoke(path, args, env, cwd)
    while True:
        try:
            on_line(next(lines))
        except StopIteration as end:
            return end.value


def available(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        try:
            conn.connect(str(path))
        except OSError:
            return False
    return True


def wait_ready(path: Path, process: subprocess.Popen, timeout: float = 120.0) -> bool:
    """Wait until the server ``process`` answers at ``path``; False when it ended first or
    the time ran out."""
    deadline = time.monotonic() + timeout
    while not available(path):
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@contextlib.contextmanager
def _named(path: Path) -> Iterator[Path]:
    os.environ[ENV] = str(path)
    try:
        yield path
    finally:
        os.environ.pop(ENV, None)


@contextlib.contextmanager
def running(state: Path, timeout: float = 120.0) -> Iterator[Path | None]:
    """A dbt server for the duration of the block, named in ``LUMBUNG_DBT_SERVER`` for the
    dbt invocations of this process and its children: the one already answering at the
    state folder's socket, else one started here; yields its socket (None when one was
    already named, or this one did not start: dbt then runs in new processes)."""
    with starting(state, timeout) as ready:
        yield ready()


@contextlib.contextmanager
def starting(state: Path, timeout: float = 120.0) -> Iterator[Callable[[], Path | None]]:
    """:func:`running`, without waiting for the server to import dbt: yields ``ready()``,
    which waits for it (once) and names it, so that the import overlaps other work."""
    if os.environ.get(ENV):
        yield lambda: None
        return
    path = socket_path(state)
    if available(path):  # `lumbung dbt-server` started by hand for this state folder
        log.info("using the dbt server at %s", path)
        with _named(path):
            yield lambda: path
        return
    process = subprocess.Popen([sys.executable, "-m", "lumbung.dbt_server", "--socket", str(path)])
    answer: list[Path | None] = []

    def ready() -> Path | None:
        if not answer:
            if wait_ready(path, process, timeout):
                os.environ[ENV] = str(path)
                answer.append(path)
            else:
                log.warning("the dbt server did not start (exit %s): dbt runs in new "
                            "processes", process.poll())
                answer.append(None)
        return answer[0]

    try:
        yield ready
    finally:
        if answer and answer[0] is not None:
            os.environ.pop(ENV, None)
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if path.parent.name.startswith("lumbung-dbt-"):  # socket_path's temporary folder
            path.unlink(missing_ok=True)
            path.parent.rmdir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lumbung.dbt_server",
        description="Serve dbt invocations on a Unix socket: dbt is imported once and each "
        "invocation runs in a fork of this process. Point LUMBUNG_DBT_SERVER at the socket.",
    )
    parser.add_argument("--socket", type=Path, required=True, help="the Unix socket to listen on")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    serve(args.socket.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
