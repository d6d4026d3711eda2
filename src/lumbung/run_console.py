"""The console of ``lumbung run``: progress on the terminal, every other line in a log file.

Airflow (structlog, set up after our own logging), dbt and the dbt server all write to file
descriptors 1 and 2, so the run points those at ``<state>/logs/run-<UTC time>.log`` and
prints its progress through a copy of the real stdout: one line per DAG and per task with
its state and time, the counts of what landed, passed the gate and was published, and at the
end the log's warnings grouped by where they come from.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import psycopg
from pluggy import HookimplMarker

from lumbung.config import PgUrl

# airflow.listeners.hookimpl is this marker; made here so that importing this module does
# not import Airflow (whose configuration must load after the output is redirected).
_hookimpl = HookimplMarker("airflow")

# structlog's console lines (Airflow, and our own loggers once Airflow has set logging up)
# and the stdlib format of lumbung.cli before that.
_STRUCTLOG = re.compile(r"^\S+ \[(?P<level>warning|error|critical)\s*\] (?P<msg>.*?)\s+"
                        r"\[(?P<logger>[\w.]+)\]")
_STDLIB = re.compile(r"^\d\d:\d\d:\d\d (?P<level>WARNING|ERROR|CRITICAL)\s+"
                     r"(?P<logger>[\w.]+): (?P<msg>.*)")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
WIDTH = 110  # longer messages are cut on the console; the log has them whole


def log_path(state: Path, now: datetime | None = None) -> Path:
    """Where one run's log goes: ``<state>/logs/run-<UTC time>.log``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return state / "logs" / f"run-{stamp}.log"


def first_line(text: object, width: int = WIDTH) -> str:
    """The first non-empty line of an error, without terminal codes, cut to ``width``."""
    lines = [ln.strip() for ln in _ANSI.sub("", str(text or "")).splitlines() if ln.strip()]
    return shorten(lines[0] if lines else "no message", width)


def shorten(text: str, width: int = WIDTH) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def task_line(task_id: str, state: str, seconds: float | None, detail: str | None = None) -> str:
    took = f"{seconds:6.1f}s" if seconds is not None else " " * 7
    name = f"{task_id:<{max(26, len(task_id))}}"
    return f"  {name} {state:<15} {took}" + (f"  {detail}" if detail else "")


def dag_line(dag_id: str, state: str, seconds: float | None = None) -> str:
    return f"{dag_id}: {state}" + (f" in {seconds:.1f}s" if seconds is not None else "")


@dataclass
class LogFinding:
    level: str
    logger: str
    count: int
    first: str


def log_findings(lines: Iterator[str] | list[str]) -> list[LogFinding]:
    """Warning and error lines of a log, grouped by level and logger, with the first
    message of each group, most frequent first."""
    groups: dict[tuple[str, str], LogFinding] = {}
    for line in lines:
        match = _STRUCTLOG.match(line) or _STDLIB.match(line)
        if not match:
            continue
        level = match["level"].lower()
        level = "error" if level == "critical" else level
        key = (level, match["logger"])
        if key in groups:
            groups[key].count += 1
        else:
            groups[key] = LogFinding(level, match["logger"], 1, _ANSI.sub("", match["msg"]))
    return sorted(groups.values(), key=lambda f: (f.level != "error", -f.count, f.logger))


def findings_lines(findings: list[LogFinding], limit: int = 8) -> list[str]:
    """The console's summary of the log's warnings and errors (at most ``limit`` groups)."""
    if not findings:
        return ["Log: no warnings or errors"]
    warnings = sum(f.count for f in findings if f.level == "warning")
    errors = sum(f.count for f in findings if f.level == "error")
    lines = [f"Log: {warnings:,} warning(s), {errors:,} error(s), by source (first message):"]
    for f in findings[:limit]:
        lines.append(shorten(f"  {f.count:>6,} {f.level:<7} {f.logger}: {f.first}"))
    if len(findings) > limit:
        rest = sum(f.count for f in findings[limit:])
        lines.append(f"  {rest:>6,} more from {len(findings) - limit} other source(s)")
    return lines


class Console:
    """Progress lines for a person: on ``stream``, and in the run's log when there is one."""

    def __init__(self, stream: TextIO, log_file: Path | None = None):
        self.stream = stream
        self.log_file = log_file
        self.lines = 0

    def line(self, text: str = "") -> None:
        for part in text.splitlines() or [""]:
            self.stream.write(part + "\n")
            self.lines += 1
        self.stream.flush()
        if self.log_file is not None:  # the log tells the whole story, progress included
            sys.stdout.write("".join(f"[progress] {p}\n" for p in text.splitlines()))
            sys.stdout.flush()

    def summarise_log(self) -> None:
        if self.log_file is None:
            return
        sys.stdout.flush()
        sys.stderr.flush()
        with open(self.log_file, encoding="utf-8", errors="replace") as lines:
            findings = log_findings(ln for ln in lines if not ln.startswith("[progress]"))
        for text in findings_lines(findings):
            self.line(text)


@contextmanager
def output_to_log(path: Path) -> Iterator[Console]:
    """For the block, file descriptors 1 and 2 (this process's and every child's) write to
    ``path``; the yielded console writes to the real stdout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    terminal = os.fdopen(os.dup(saved_out), "w", encoding="utf-8", errors="replace")
    try:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        yield Console(terminal, path)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        for fd in (saved_out, saved_err, log_fd):
            os.close(fd)
        terminal.close()


@dataclass
class TaskProgress:
    """An Airflow listener (in the process that runs ``dag.test()``): one console line per
    finished task, with what it landed, checked or published."""

    console: Console
    warehouse: PgUrl
    # tasks named with their DAG (``idm.quality_gate``), when several DAGs run at once
    qualified: bool = False
    started: dict[str, float] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)

    def name(self, ti) -> str:
        return f"{ti.dag_id}.{ti.task_id}" if self.qualified else ti.task_id

    @_hookimpl
    def on_task_instance_running(self, previous_state, task_instance) -> None:
        self.started[task_instance.task_id] = time.monotonic()

    @_hookimpl
    def on_task_instance_success(self, previous_state, task_instance) -> None:
        self._ended(task_instance, "success", None)

    @_hookimpl
    def on_task_instance_skipped(self, previous_state, task_instance) -> None:
        self._ended(task_instance, "skipped", None)

    @_hookimpl
    def on_task_instance_failed(self, previous_state, task_instance, error) -> None:
        state = str(getattr(task_instance, "state", None) or "failed").split(".")[-1].lower()
        self._ended(task_instance, state, first_line(error, 80))

    def _ended(self, ti, state: str, detail: str | None) -> None:
        started = self.started.pop(ti.task_id, None)
        seconds = time.monotonic() - started if started is not None else None
        if detail is None and state == "success":
            try:
                detail = task_counts(self.warehouse, ti.dag_id, ti.run_id, ti.task_id)
            except psycopg.Error as err:  # counts are a courtesy; never fail the task for them
                detail = f"(counts unavailable: {first_line(err, 60)})"
        self.reported.add(ti.task_id)
        self.console.line(task_line(self.name(ti), state, seconds, detail))

    @contextmanager
    def listening(self) -> Iterator[TaskProgress]:
        from airflow.sdk.listener import get_listener_manager

        manager = get_listener_manager()
        manager.add_listener(self)
        try:
            yield self
        finally:
            manager.pm.unregister(self)


def task_counts(warehouse: PgUrl, dag_id: str, run_id: str, task_id: str) -> str | None:
    """What a finished task did, from the audit tables: batches landed, gate verdicts,
    marts audited, tables published. None for the other tasks."""
    if task_id.startswith("land_"):
        sql = """select count(*), count(*) filter (where status = 'rejected'),
                        coalesce(sum(rows_received), 0), coalesce(sum(rows_loaded), 0),
                        coalesce(sum(rows_quarantined), 0)
                 from audit.load_batches where dag_id = %s and run_id = %s"""
    elif task_id == "quality_gate":
        sql = """select count(*), count(*) filter (where not passed),
                        count(*) filter (where passed and warnings > 0)
                 from audit.dq_runs where layer = 'batch' and dag_id = %s and run_id = %s"""
    elif task_id == "audit_marts":
        sql = """select count(*), count(*) filter (where not passed),
                        count(*) filter (where passed and warnings > 0)
                 from audit.dq_runs where layer = 'mart' and dag_id = %s and run_id = %s"""
    elif task_id == "publish_marts":
        sql = """select count(distinct p.publication_id), count(t.key),
                        coalesce(sum(t.value::bigint), 0)
                 from audit.publications as p
                     left join lateral jsonb_each_text(p.tables) as t on true
                 where p.dag_id = %s and p.run_id = %s"""
    else:
        return None
    with psycopg.connect(warehouse.url(), connect_timeout=10) as conn:
        row = conn.execute(sql, (dag_id, run_id)).fetchone()
    return counts_text(task_id, row)


def counts_text(task_id: str, row: tuple) -> str:
    """The counts of :func:`task_counts` as the console shows them."""
    if task_id.startswith("land_"):
        batches, rejected, received, loaded, quarantined = row
        if not batches:
            return "no new or changed files"
        return (f"{batches:,} batch(es) landed: {received:,} rows received, {loaded:,} loaded, "
                f"{quarantined:,} quarantined" + (f", {rejected:,} rejected" if rejected else ""))
    if task_id == "publish_marts":
        publications, tables, rows = row
        if not publications:
            return "nothing published"
        return f"{tables} table(s) published, {rows:,} rows"
    checked, failed, warned = row
    what = "batch(es) through the gate" if task_id == "quality_gate" else "mart(s) audited"
    if not checked:
        return f"0 {what}"
    return f"{checked:,} {what}: {failed:,} failed, {warned:,} passed with warnings"
