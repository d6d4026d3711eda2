"""A page's statements sent at once and its ``COPY`` read straight from libpq.

psycopg's pipeline cannot hold a ``COPY``, and its ``Copy`` object costs a Python generator
per row; a page sent as one simple query (begin, the publication check, ``set local role``,
any small queries, the ``COPY``, rollback) is one round trip, and its rows are taken from
libpq in one loop. Parameters are merged client-side by psycopg (``ClientCursor.mogrify``),
as psycopg does for any ``COPY`` with parameters.
"""

from __future__ import annotations

import select
from collections.abc import Iterator

import psycopg
from psycopg import pq, sql

ExecStatus = pq.ExecStatus
# Bounds a wait on the socket; the server's statement_timeout ends a slow query sooner.
WAIT_SECONDS = 120.0


class Statements:
    """Statements sent in one round trip on ``conn``, the last a ``COPY ... TO STDOUT``:
    :meth:`start`, then :meth:`chunks` or :meth:`read`. With ``end``, a rollback follows
    them in the same round trip."""

    def __init__(self, conn: psycopg.Connection, statements: list[tuple[sql.Composable | str,
                                                                       list | None]],
                 end: bool = True):
        self.conn = conn
        self.pgconn = conn.pgconn
        self._done = False  # every answer taken
        self._copied = False  # the COPY's rows all read
        mogrify = psycopg.ClientCursor(conn).mogrify
        text = ";\n".join(query if params is None and isinstance(query, str)
                           else mogrify(query, params) for query, params in statements)
        if end:
            text += ";\nrollback"
        _send(self.pgconn, text.encode(conn.info.encoding))

    def start(self) -> list[list[tuple[str | None, ...]]]:
        """The rows of the statements before the ``COPY`` that return rows (text, as the
        server wrote them), once the ``COPY`` has begun; raises the first error."""
        found = []
        while True:
            result = self._result()
            if result is None:
                raise psycopg.InterfaceError("the warehouse sent no COPY answer")
            if result.status == ExecStatus.COPY_OUT:
                return found
            if result.status == ExecStatus.TUPLES_OK:
                found.append(_rows(result))
            elif result.status != ExecStatus.COMMAND_OK:
                raise psycopg.InterfaceError(f"unexpected answer {result.status!r}")

    def chunks(self, size: int = 256 * 1024) -> Iterator[bytes]:
        """The ``COPY``'s rows (after :meth:`start`) in blocks of about ``size`` bytes; then
        the rest of the answers."""
        while block := self._copy_data(size):
            yield block
        self.finish()

    def read(self) -> bytes:
        """Every row of the ``COPY`` (after :meth:`start`), then the rest of the answers."""
        text = self._copy_data(None)
        self.finish()
        return text

    def _copy_data(self, size: int | None) -> bytes:
        """The next rows, at least ``size`` bytes of them unless they end (None: all); b""
        once they have."""
        # libpq hands COPY out a row at a time: one tight loop, no generator per row
        get, block = self.pgconn.get_copy_data, bytearray()
        while not self._copied and (size is None or len(block) < size):
            length, data = get(1)
            if length > 0:
                block += data
            elif length == 0:
                _wait(self.pgconn, read=True)
                self.pgconn.consume_input()
            else:
                self._copied = True
        return bytes(block)

    def finish(self) -> None:
        """Take the answers left (the ``COPY``'s end, the rollback); raise the first error."""
        while self._result() is not None:
            pass
        self._done = True

    def _result(self) -> pq.abc.PGresult | None:
        result = _next_result(self.pgconn)
        if result is not None and result.status in (ExecStatus.FATAL_ERROR,
                                                    ExecStatus.BAD_RESPONSE):
            error = psycopg.errors.error_from_result(result, encoding=self.conn.info.encoding)
            while _next_result(self.pgconn) is not None:  # what follows an error is not run
                pass
            self._done = True
            raise error
        return result

    def abandon(self) -> None:
        """Stop a ``COPY`` read half-way (a client gone): cancel it and take what is left,
        so the connection can serve again; else the pool discards it."""
        if self._done or self.pgconn.transaction_status != pq.TransactionStatus.ACTIVE:
            return
        try:
            self.conn.cancel_safe(timeout=5)
            self.read()
        except psycopg.Error:
            pass


def _rows(result: pq.abc.PGresult) -> list[tuple[str | None, ...]]:
    return [tuple(None if (value := result.get_value(row, column)) is None
                  else bytes(value).decode() for column in range(result.nfields))
            for row in range(result.ntuples)]


def _next_result(pgconn: pq.abc.PGconn) -> pq.abc.PGresult | None:
    while pgconn.is_busy():
        _wait(pgconn, read=True)
        pgconn.consume_input()
    return pgconn.get_result()


def _send(pgconn: pq.abc.PGconn, query: bytes) -> None:
    pgconn.send_query(query)
    while pgconn.flush():  # nonblocking (as psycopg sets it): the rest when writable
        _wait(pgconn, read=False)


def _wait(pgconn: pq.abc.PGconn, read: bool) -> None:
    """Until the socket is ready (the GIL released meanwhile); poll, as a server's
    descriptors may go past select's 1024."""
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN if read else select.POLLOUT)
    if not poller.poll(WAIT_SECONDS * 1000):
        raise psycopg.OperationalError("the warehouse stopped answering")
