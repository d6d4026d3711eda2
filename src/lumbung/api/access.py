"""Who is asking and as which database role: tokens, the connection pool, one transaction
per request.

The API logs in as ``lumbung_api``, which can read nothing itself. Each request runs in one
read-only repeatable-read transaction: the token is checked and the catalog read as
``lumbung_api`` (the latest publication's id, the catalog itself only when a publication is
newer than the cached one), then ``set local role`` makes the caller's role (a regency's
for a token, ``lumbung_bi`` for the public) the one the database's privileges and row-level
security judge; the role ends with the transaction. A page of rows does it all in one round
trip, its rows read with ``COPY`` (:meth:`Session.copy`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from fastapi import Request
from psycopg import pq, sql
from psycopg_pool import ConnectionPool, PoolTimeout
from starlette.concurrency import run_in_threadpool

from lumbung import api_tokens
from lumbung.api.catalog import LATEST_PUBLICATION, Catalog, Mart
from lumbung.config import BI_ROLE
from lumbung.roundtrip import Statements

log = logging.getLogger(__name__)

PUBLIC_ROLE = BI_ROLE
STATEMENT_TIMEOUT_MS = 30_000
# How long the event loop may wait for a connection the pool said it had ready (another
# request may take it first); then the request waits in a worker thread.
READY_SECONDS = 0.001


class ApiError(Exception):
    """An answer other than success, with a sentence for the caller."""

    def __init__(self, status: int, message: str, field: str | None = None,
                 kind: str = "Validation Error"):
        super().__init__(message)
        self.status, self.message, self.field, self.kind = status, message, field, kind


def bearer_token(request: Request) -> str | None:
    """The caller's token: ``Authorization: Bearer <token>`` (or the bare token, as CKAN
    clients send their API key), or ``X-API-Key`` / ``X-CKAN-API-Key``."""
    value = (request.headers.get("authorization") or request.headers.get("x-api-key")
             or request.headers.get("x-ckan-api-key") or "").strip()
    if value.lower().startswith("bearer "):
        value = value[7:].strip()
    return value or None


def _configure(conn: psycopg.Connection) -> None:
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    conn.autocommit = False


# What psycopg begins with as configured above, for statements sent without it
# (:meth:`Session.copy`).
_BEGIN = "begin isolation level repeatable read read only"


class Warehouse:
    """The pool of ``lumbung_api`` connections and the catalog of what each role reads."""

    def __init__(self, url: str, max_size: int = 10):
        self.catalog = Catalog()
        self.pool = ConnectionPool(
            url, min_size=1, max_size=max_size, open=False, configure=_configure,
            kwargs={"options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                    "application_name": "lumbung-api",
                    # COPY's bytes are sent on as they come, as UTF-8
                    "client_encoding": "utf8"},
        )

    def open(self) -> None:
        self.pool.open()

    def ready(self) -> bool:
        """Whether the pool holds an idle connection (taking it does not wait)."""
        return bool(self.pool.get_stats().get("pool_available"))

    def close(self) -> None:
        self.pool.close()


@functools.lru_cache(maxsize=256)
def _set_role(role: str) -> str:
    return sql.SQL("set local role {}").format(sql.Identifier(role)).as_string(None)


class Session:
    """One request's transaction: ``role`` is the caller's, ``conn`` runs as ``lumbung_api``
    until :meth:`become` sets that role."""

    def __init__(self, warehouse: Warehouse, token: str | None,
                 conn: psycopg.Connection | None = None):
        self._pool = warehouse.pool
        self._catalog = warehouse.catalog
        try:
            self.conn = conn or self._pool.getconn()
        except Exception as err:
            raise ApiError(503, "The warehouse cannot be reached right now; try again later.",
                           kind="Internal Error") from err
        self.token = token
        self.role = PUBLIC_ROLE
        if token is not None:
            try:
                role = api_tokens.role_of(self.conn, token)
            except BaseException:
                self.close()
                raise
            if role is None:
                self.close()
                # A forged, mistyped or revoked token never falls back to the public role.
                raise ApiError(401, "This API token is unknown or revoked; ask the province's "
                               "data team for a new one, or call without a token for the "
                               "public data.", kind="Authorization Error")
            self.role = role

    def marts(self) -> list[Mart]:
        """The marts the caller's role can read, by name (from the catalog's cache)."""
        return list(self._catalog.marts(self.conn, self.role).values())

    def mart(self, name: str) -> Mart | None:
        return self._catalog.marts(self.conn, self.role).get(name)

    def known_mart(self, name: str) -> tuple[int, Mart] | None:
        """(publication id, mart) from the catalog's cache without asking the database, for
        :meth:`read` to check; None when the cache cannot tell (not cached, or no such mart
        cached: :meth:`mart` answers then)."""
        known = self._catalog.known(self.role)
        if known is None or name not in known[1]:
            return None
        return known[0], known[1][name]

    def _stale_catalog(self) -> None:
        """The database refused statements written from the cached catalog (e.g. a mart or
        column gone since): end the transaction and ask the catalog again next time."""
        self.conn.rollback()
        self._catalog.forget()

    def become(self) -> None:
        self.conn.execute(sql.SQL("set local role {}").format(sql.Identifier(self.role)))

    def read(self, queries: list[tuple], publication: int | None = None,
             end: bool = False) -> list[list[tuple]] | None:
        """Every row of each query, run as the caller's role, in one round trip (pipeline);
        ``end``: the transaction ends in the same round trip. With ``publication`` (of a
        mart from :meth:`known_mart`), None when a newer one appeared: the queries were
        written from a stale catalog and their rows are not used."""
        try:
            with self.conn.pipeline():
                latest = (self.conn.execute(LATEST_PUBLICATION) if publication is not None
                          else None)
                self.become()
                cursors = [self.conn.execute(*query) for query in queries]
                if end:
                    self.conn.rollback()
        except psycopg.ProgrammingError:
            if publication is None:
                raise
            self._stale_catalog()
            return None
        if latest is not None and latest.fetchone()[0] != publication:
            if not end:
                self.conn.rollback()
            return None
        return [cursor.fetchall() for cursor in cursors]

    @classmethod
    async def open(cls, warehouse: Warehouse, token: str | None) -> Session:
        """A session, made without blocking the event loop: at once when the caller has
        no token to check and the pool has a connection ready, else in a worker thread."""
        if token is None and warehouse.ready():
            try:
                return cls(warehouse, None, warehouse.pool.getconn(timeout=READY_SECONDS))
            except PoolTimeout:
                pass  # taken meanwhile: wait for one in a thread
        return await run_in_threadpool(cls, warehouse, token)

    async def copy(self, copy: tuple, publication: int | None = None,
                   queries: list[tuple] = ()) -> tuple[list[list[tuple]], Statements] | None:
        """``copy`` (a ``COPY ... TO STDOUT``) run as the caller's role after ``queries``,
        all in one round trip that also ends the transaction: (the rows of each query, the
        ``COPY`` to read). With ``publication`` (of a mart from :meth:`known_mart`), None
        when a newer one appeared or the database refused the statements: they were written
        from a stale catalog, whose cache is dropped then."""
        statements: list[tuple] = []
        if self.conn.pgconn.transaction_status == pq.TransactionStatus.IDLE:
            statements.append((_BEGIN, None))
        if publication is not None:
            statements.append((LATEST_PUBLICATION, None))
        statements.append((_set_role(self.role), None))
        sent = Statements(self.conn, [*statements, *queries, copy])
        try:
            rows = await sent.start()
        except psycopg.ProgrammingError:
            if publication is None:
                raise
            await run_in_threadpool(self._stale_catalog)
            return None
        if publication is not None and int(rows.pop(0)[0][0]) != publication:
            await sent.read()
            return None
        return rows, sent

    async def aclose(self) -> None:
        """:meth:`close`, in a worker thread only when the transaction is still open (a
        rollback to send)."""
        if self.conn is not None and (self.conn.pgconn.transaction_status
                                      != pq.TransactionStatus.IDLE):
            await run_in_threadpool(self.close)
        else:
            self.close()

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            conn.rollback()
        except psycopg.Error:
            log.warning("could not end a request's transaction", exc_info=True)
        self._pool.putconn(conn)


@contextmanager
def session(request: Request) -> Iterator[Session]:
    current = Session(request.app.state.warehouse, bearer_token(request))
    try:
        yield current
    finally:
        current.close()
