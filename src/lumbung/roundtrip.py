"""Statements sent at once and their ``COPY`` read straight from libpq: the API's pages,
the open data release's marts.

psycopg's pipeline cannot hold a ``COPY``, and its ``Copy`` object costs a Python generator
per row; a page sent as one simple query (begin, the publication check, ``set local role``,
any small queries, the ``COPY``, rollback) is one round trip, and its rows are taken from
libpq in one loop. Parameters are merged client-side by psycopg (``ClientCursor.mogrify``),
as psycopg does for any ``COPY`` with parameters.

The exchange is written as generators that yield the socket waits they need (as psycopg's
own are), awaited on the API's event loop (a page is served without a hop to a worker
thread and back) or waited for in a thread (the open data release's ``COPY`` of a mart).
"""

from __future__ import annotations

import asyncio
import select
from collections.abc import AsyncIterator, Generator, Iterator

import psycopg
from psycopg import pq, sql

ExecStatus = pq.ExecStatus
# Bounds a wait on the socket; the server's statement_timeout ends a slow query sooner.
WAIT_SECONDS = 120.0
READ, WRITE = True, False  # what a generator below waits for: the socket readable, writable

Waits = Generator[bool, None, "object"]


class Statements:
    """Statements sent in one round trip on ``conn``, the last a ``COPY ... TO STDOUT``:
    :meth:`start`, then :meth:`blocks` or :meth:`read`. With ``end``, a rollback follows
    them in the same round trip."""

    def __init__(self, conn: psycopg.Connection, statements: list[tuple[sql.Composable | str,
                                                                       list | None]],
                 end: bool = True):
        self.conn = conn
        self.pgconn = conn.pgconn
        self._sent = False
        self._done = False  # every answer taken
        self._copied = False  # the COPY's rows all read
        self.copied: int | None = None  # how many, once they are
        mogrify = psycopg.ClientCursor(conn).mogrify
        text = ";\n".join(query if params is None and isinstance(query, str)
                           else mogrify(query, params) for query, params in statements)
        if end:
            text += ";\nrollback"
        self._text = text.encode(conn.info.encoding)

    async def start(self) -> list[list[tuple[str | None, ...]]]:
        """Send the statements; the rows of those before the ``COPY`` that return rows
        (text, as the server wrote them), once the ``COPY`` has begun; raises the first
        error."""
        return await _awaited(self.pgconn, self._start())

    async def blocks(self, size: int = 0) -> AsyncIterator[bytes]:
        """The ``COPY``'s rows (after :meth:`start`) as they arrive, in blocks of whole
        rows: each block is every row libpq holds when it is taken, read while the caller
        works on the block before (with ``size``: blocks of ``size`` bytes or just over,
        the last smaller); then the rest of the answers."""
        for item in self._blocks(size):
            if isinstance(item, bool):
                await _ready(self.pgconn, item)
            else:
                yield item

    def start_blocking(self) -> list[list[tuple[str | None, ...]]]:
        """:meth:`start`, waiting on the socket in this thread (outside an event loop)."""
        return _waited(self.pgconn, self._start())

    def blocks_blocking(self, size: int = 0) -> Iterator[bytes]:
        """:meth:`blocks`, waiting on the socket in this thread."""
        for item in self._blocks(size):
            if isinstance(item, bool):
                _wait(self.pgconn, item)
            else:
                yield item

    async def read(self) -> bytes:
        """Every row of the ``COPY`` (after :meth:`start`), then the rest of the answers."""
        return b"".join([block async for block in self.blocks()])

    async def abandon(self) -> None:
        """Stop a ``COPY`` read half-way (a client gone, a page that failed): cancel it
        and take what is left, so the connection can serve again; else the pool discards
        it."""
        if (self._done or not self._sent
                or self.pgconn.transaction_status != pq.TransactionStatus.ACTIVE):
            return
        try:
            await asyncio.to_thread(self.conn.cancel_safe, timeout=5)
            await self.read()
        except psycopg.Error:
            pass

    # the exchange, as generators yielding the waits they need
    def _start(self) -> Waits:
        self.pgconn.send_query(self._text)
        self._sent = True
        while self.pgconn.flush():  # nonblocking (as psycopg sets it): the rest when writable
            yield WRITE
        found = []
        while True:
            result = yield from self._result()
            if result is None:
                raise psycopg.InterfaceError("the warehouse sent no COPY answer")
            if result.status == ExecStatus.COPY_OUT:
                return found
            if result.status == ExecStatus.TUPLES_OK:
                found.append(_rows(result))
            elif result.status != ExecStatus.COMMAND_OK:
                raise psycopg.InterfaceError(f"unexpected answer {result.status!r}")

    def _blocks(self, size: int) -> Generator[bool | bytes, None, None]:
        # libpq hands COPY out a row at a time: one tight loop, no generator per row
        get, block, received = self.pgconn.get_copy_data, bytearray(), True
        while not self._copied:
            length, data = get(1)
            if length > 0:
                block += data
                received = True
                if size and len(block) >= size:
                    yield bytes(block)
                    block.clear()
            elif length < 0:
                self._copied = True
            elif block and not size:
                yield bytes(block)
                block.clear()
            elif received:  # what the socket holds already is read without waiting for it
                self.pgconn.consume_input()
                received = False
            else:
                yield READ
                self.pgconn.consume_input()
        if block:
            yield bytes(block)
        while (result := (yield from self._result())) is not None:  # the COPY's end, ...
            if result.status == ExecStatus.COMMAND_OK and result.command_tuples is not None:
                self.copied = result.command_tuples  # COPY's row count
        self._done = True

    def _result(self) -> Generator[bool, None, pq.abc.PGresult | None]:
        result = yield from _next_result(self.pgconn)
        if result is not None and result.status in (ExecStatus.FATAL_ERROR,
                                                    ExecStatus.BAD_RESPONSE):
            error = psycopg.errors.error_from_result(result, encoding=self.conn.info.encoding)
            while (yield from _next_result(self.pgconn)) is not None:  # the rest is not run
                pass
            self._done = True
            raise error
        return result


def _rows(result: pq.abc.PGresult) -> list[tuple[str | None, ...]]:
    return [tuple(None if (value := result.get_value(row, column)) is None
                  else bytes(value).decode() for column in range(result.nfields))
            for row in range(result.ntuples)]


def _next_result(pgconn: pq.abc.PGconn) -> Generator[bool, None, pq.abc.PGresult | None]:
    while pgconn.is_busy():
        yield READ
        pgconn.consume_input()
    return pgconn.get_result()


async def _awaited(pgconn: pq.abc.PGconn, waits: Waits):
    """Run ``waits`` to its end, awaiting each socket wait it yields; its return value."""
    while True:
        try:
            wait = next(waits)
        except StopIteration as done:
            return done.value
        await _ready(pgconn, wait)


def _waited(pgconn: pq.abc.PGconn, waits: Waits):
    """Run ``waits`` to its end, waiting in this thread; its return value."""
    while True:
        try:
            wait = next(waits)
        except StopIteration as done:
            return done.value
        _wait(pgconn, wait)


def _wait(pgconn: pq.abc.PGconn, read: bool) -> None:
    """Until the socket is ready (the GIL released meanwhile); poll, as a process's
    descriptors may go past select's 1024."""
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN if read else select.POLLOUT)
    if not poller.poll(WAIT_SECONDS * 1000):
        raise psycopg.OperationalError("the warehouse stopped answering")


async def _ready(pgconn: pq.abc.PGconn, read: bool) -> None:
    """Until the socket is readable (``read``) or writable, on the running event loop."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    fd = pgconn.socket
    watch, unwatch = ((loop.add_reader, loop.remove_reader) if read
                      else (loop.add_writer, loop.remove_writer))
    watch(fd, lambda: ready.done() or ready.set_result(None))
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            await ready
    except TimeoutError:
        raise psycopg.OperationalError("the warehouse stopped answering") from None
    finally:
        unwatch(fd)
