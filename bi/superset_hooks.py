"""What Lumbung's superset_config.py adds to Superset 6.1 (imported by that file, which
`lumbung bi` writes into the state folder; runs in Superset's Python, .venv-bi).

Superset's per-chart overhead was mostly its own bookkeeping in its SQLite metadata
database, not the warehouse: its event logger (``DBEventLogger``) commits one row per logged
step, six for one chart-data request (the API call, the query, loading the rows into a
data frame, ...). Each commit waited for an fsync, and each expired every object of the
request's session, so the request reloaded its dataset, columns and metrics from SQLite
after every step. Here the same rows are written to the same ``logs`` table, but once per
request, when it ends; SQLite keeps a write-ahead log so a commit does not wait for the
disk, and its connections stay open (SQLAlchemy 1.4 opened and closed one for every
session checkout of a file database, and closing the last one checkpoints the log).

The warehouse: Superset makes a new SQLAlchemy engine with a NullPool for every use, so a
chart on a table dataset opened a new PostgreSQL connection (a backend forked, SCRAM, five
queries of SQLAlchemy's dialect set-up) and a chart on a SQL dataset three (two more only to
ask the default schema). Connections are kept here instead, below SQLAlchemy: closed by
Superset, one is reset (rollback, DISCARD ALL) and kept for the next use with the same
connection string (same user and password); Superset still sets each up as a new one.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import timedelta
from typing import Any

import psycopg2
import psycopg2.extensions
from flask import Flask, Response, g, has_request_context
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool
from superset.utils.log import DBEventLogger

_PENDING = "_lumbung_event_logs"
_TIMINGS = "_lumbung_server_timings"
# Superset's own timed steps of a request sent back as a Server-Timing header (browsers'
# developer tools show it; bench_bi_charts reads the warehouse queries' time from it).
SERVER_TIMING_ACTIONS = ("execute_sql",)


@event.listens_for(Engine, "connect")
def _sqlite_write_ahead_log(dbapi_connection: Any, _record: Any) -> None:
    """WAL and synchronous=NORMAL on Superset's SQLite metadata database: a commit is
    durable against a crash of Superset, and the last ones may be lost only if the machine
    loses power (the file cannot be corrupted by that). Other databases are left alone."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


# Superset's metadata database is SQLite (superset_config.py): a pool of open connections,
# handed to one thread at a time, so sqlite3's same-thread check does not apply.
SQLALCHEMY_ENGINE_OPTIONS = {"poolclass": QueuePool, "pool_size": 5, "max_overflow": 10,
                             "connect_args": {"check_same_thread": False}}


KEEP_IDLE = 8  # connections kept per connection string
KEEP_SECONDS = 60.0  # an idle connection older than this is closed, not reused
_idle: dict[str, list[tuple[float, KeptConnection]]] = {}
_idle_lock = threading.Lock()


class KeptConnection(psycopg2.extensions.connection):
    """A psycopg2 connection whose close() resets it and keeps it for the next user."""

    _keep_key = ""

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                self.rollback()
            self.autocommit = True
            with self.cursor() as cursor:  # session settings, temp tables, prepared, locks
                cursor.execute("DISCARD ALL")
            self.autocommit = False
        except psycopg2.Error:
            super().close()
            return
        with _idle_lock:
            kept = _idle.setdefault(self._keep_key, [])
            if len(kept) < KEEP_IDLE:
                kept.append((time.monotonic(), self))
                return
        super().close()


def kept_connection(dsn: str, *args: Any, **kwargs: Any) -> KeptConnection:
    """psycopg2's connection_factory: a kept connection for ``dsn`` if one is fresh, else
    a new one."""
    now = time.monotonic()
    with _idle_lock:
        kept = _idle.get(dsn, [])
        while kept:
            since, connection = kept.pop()
            if not connection.closed and now - since < KEEP_SECONDS:
                return connection
            psycopg2.extensions.connection.close(connection)
    connection = KeptConnection(dsn, *args, **kwargs)
    connection._keep_key = dsn
    return connection


def DB_CONNECTION_MUTATOR(uri: Any, params: dict, *_: Any) -> tuple[Any, dict]:
    """Superset's hook on every engine it makes for a database: PostgreSQL connections
    through psycopg2 are kept (``kept_connection``) and in autocommit, so that a chart's
    query is one round trip: psycopg2 otherwise sends ``BEGIN`` before it, which costs as
    much as most charts' SQL. The BI role only reads, so a transaction adds nothing."""
    if uri.get_backend_name() == "postgresql" and uri.get_driver_name() == "psycopg2":
        params.setdefault("connect_args", {})["connection_factory"] = kept_connection
        params.setdefault("isolation_level", "AUTOCOMMIT")
    return uri, params


class RequestEventLogger(DBEventLogger):
    """``DBEventLogger``'s rows, written when the request ends instead of at every step;
    the durations of its ``execute_sql`` steps (a warehouse query run and its rows fetched,
    timed by Superset) also go back to the client in a ``Server-Timing`` header."""

    def log_with_context(self, action: str, duration: timedelta | None = None,
                         *args: Any, **kwargs: Any) -> None:
        if duration is not None and action in SERVER_TIMING_ACTIONS and has_request_context():
            timings = g.get(_TIMINGS)
            if timings is None:
                timings = []
                setattr(g, _TIMINGS, timings)
            timings.append((action, duration.total_seconds() * 1000))
        super().log_with_context(action, duration, *args, **kwargs)

    def log(self, *args: Any, **kwargs: Any) -> None:
        if not has_request_context():
            super().log(*args, **kwargs)
            return
        pending = g.get(_PENDING)
        if pending is None:
            pending = []
            setattr(g, _PENDING, pending)
        pending.append((args, kwargs))

    def flush(self, _error: BaseException | None = None) -> None:
        """Teardown of every request: write what it logged (DBEventLogger commits each)."""
        pending = g.pop(_PENDING, None) if has_request_context() else None
        for args, kwargs in pending or ():
            super().log(*args, **kwargs)


EVENT_LOGGER = RequestEventLogger()


def server_timing(response: Response) -> Response:
    """``Server-Timing: execute_sql;dur=<ms>`` for each warehouse query of the request."""
    timings = g.pop(_TIMINGS, None)
    if timings:
        response.headers["Server-Timing"] = ", ".join(
            f'{action};dur={ms:.3f};desc="{number}"'
            for number, (action, ms) in enumerate(timings, start=1))
    return response


def flask_app_mutator(app: Flask) -> None:
    app.after_request(server_timing)
    app.teardown_request(EVENT_LOGGER.flush)
