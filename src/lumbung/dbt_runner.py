"""Running dbt against the warehouse, in a process of its own so its global state stays its
own: a fork of the dbt server (``lumbung.dbt_server``) when there is one, else a new one."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from lumbung import dbt_server
from lumbung.config import Paths, PgUrl

log = logging.getLogger(__name__)


_WORTH_SHOWING = ("ERROR", "FAIL", "WARN", "Finished running", "Done.", "Completed",
                  "Found ")


class DbtFailed(RuntimeError):
    """dbt ended with errors; the message carries its error lines."""


def unit_tests_enabled() -> bool:
    """dbt unit tests check SQL logic on fixed inputs, not data: they run in development and
    CI (``LUMBUNG_DBT_UNIT_TESTS=1``, which the test suite sets), not in every production
    build, as dbt's documentation advises."""
    return os.environ.get("LUMBUNG_DBT_UNIT_TESTS", "").lower() in ("1", "true", "yes")


def invocation(paths: Paths, warehouse: PgUrl, *args: str,
               manifest: bool = True) -> tuple[list[str], dict[str, str]]:
    """The arguments and environment of ``dbt <args>`` on the project (``manifest``: see
    :func:`run_dbt`); it runs in ``paths.dbt_project``."""
    argv = [
        *args,
        *(() if manifest else ("--no-write-json",)),
        "--project-dir", str(paths.dbt_project),
        "--profiles-dir", str(paths.dbt_project),
        "--target-path", str(paths.dbt_target),
        "--log-path", str(paths.dbt_logs),
    ]
    env = {**os.environ, **warehouse.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    if not unit_tests_enabled():
        env.setdefault("DBT_EXCLUDE_RESOURCE_TYPES", "unit_test")
    # A selected model's tests run only when every model they read is built by the same
    # command (a relationship test to a model outside the selection would read nothing).
    env.setdefault("DBT_INDIRECT_SELECTION", "buildable")
    env.pop(dbt_server.ENV, None)
    return argv, env


# dbt commands that read the warehouse's batches, pinned first (lumbung.visibility).
_READING = ("build", "run", "test", "seed", "snapshot", "show")


def run_dbt(paths: Paths, warehouse: PgUrl, *args: str, manifest: bool = True,
            pin: int | None = None, repin: bool = True,
            tested_after: int | None = None) -> list[str]:
    """Run ``dbt <args>`` on the project; stream its log; raise DbtFailed on failure.
    A command that reads the warehouse reads the batches released to dbt up to ``pin``
    (default: all released when it starts; ``lumbung.visibility``); ``repin=False`` leaves
    the pin as it is (the region build, which reads no pinned batch). Its staging tests
    check the rows of batches released after ``tested_after`` (default: every row).
    ``manifest=False`` leaves ``manifest.json`` as the last run wrote it (``run_results.json``
    is written still): for a selective rebuild of a project that has not changed since.
    It runs in the dbt server named by ``LUMBUNG_DBT_SERVER`` (``lumbung.dbt_server``: dbt
    already imported), else in a new process."""
    if repin and args and args[0] in _READING:
        from lumbung import visibility

        visibility.set_pin(warehouse, visibility.pin(warehouse) if pin is None else pin,
                           tested_after)
    argv, env = invocation(paths, warehouse, *args, manifest=manifest)
    server = os.environ.get(dbt_server.ENV)
    log.info("running dbt %s (%s; full log: %s)", " ".join(args),
             f"dbt server {server}" if server else "new process", paths.dbt_logs / "dbt.log")
    lines: list[str] = []

    def show(line: str) -> None:
        lines.append(line)
        # Each node's line stays in dbt's own log; the run log keeps what needs eyes.
        level = logging.INFO if any(k in line for k in _WORTH_SHOWING) else logging.DEBUG
        log.log(level, "dbt | %s", line)

    cwd = str(paths.dbt_project)
    returncode = None
    if server:
        try:
            returncode = dbt_server.run(Path(server), argv, env, cwd, show)
        except dbt_server.ServerUnavailable as error:
            log.warning("%s: dbt runs in a new process", error)
    if returncode is None:
        returncode = _in_new_process(argv, env, cwd, show)
    if returncode != 0:
        # dbt puts the database's message on the lines after "Database Error in ...".
        errors = [ln for i, ln in enumerate(lines)
                  if any(k in ln for k in ("ERROR", "FAIL", "Error"))
                  or any("Error in " in prev for prev in lines[max(0, i - 2):i])]
        errors = errors or lines[-10:]  # dbt itself failed (a bad option, say): its last words
        raise DbtFailed(f"dbt {args[0]} failed (exit {returncode}):\n" + "\n".join(errors[-30:]))
    return lines


def _in_new_process(argv: list[str], env: dict[str, str], cwd: str,
                    show: Callable[[str], None]) -> int:
    with subprocess.Popen(
        [sys.executable, "-m", "lumbung.dbt_main", *argv], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, cwd=cwd,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            show(line.rstrip())
    return proc.returncode
