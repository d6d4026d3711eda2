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
"""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Flask, g, has_request_context
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool
from superset.utils.log import DBEventLogger

_PENDING = "_lumbung_event_logs"


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


class RequestEventLogger(DBEventLogger):
    """``DBEventLogger``'s rows, written when the request ends instead of at every step."""

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


def flask_app_mutator(app: Flask) -> None:
    app.teardown_request(EVENT_LOGGER.flush)
