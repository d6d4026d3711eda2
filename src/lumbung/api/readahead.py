"""Read-ahead for harvesters: while a client takes a page it reached by a ``next`` link,
the page after it is read, so that its next request finds that page ready.

A harvester pages through a mart one request after another; each page costs a round trip
to the warehouse that the client waits for. Read ahead, that round trip overlaps with the
client receiving the page before and asking for the next. Only public requests (no token)
that follow a ``next`` link start one, so a client that reads first pages only (a
dashboard, a filtered lookup) costs nothing more.

A page read ahead is served once, to the request for exactly its URL, and only within
``keep_seconds`` of being read; at most ``max_pages`` are held. It was checked against the
latest publication when it was read, as every page is: served later, it is the page the
client would have got by asking that much sooner.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")  # what a read gives: the page's answer

KEEP_SECONDS = 5.0
MAX_PAGES = 16


class ReadAhead(Generic[T]):
    """Pages being read, or read, ahead of the requests for them, by URL."""

    def __init__(self, max_pages: int = MAX_PAGES, keep_seconds: float = KEEP_SECONDS):
        self.max_pages, self.keep_seconds = max_pages, keep_seconds
        self._pages: dict[str, tuple[float, asyncio.Task]] = {}
        self.served = 0  # pages answered from here (for tests and logs)

    def start(self, url: str, read: Callable[[], Awaitable[T | None]]) -> None:
        """Read the page at ``url`` now (``read``), unless it is being read already or
        enough pages are held."""
        self._expire()
        if url in self._pages or len(self._pages) >= self.max_pages:
            return
        task = asyncio.get_running_loop().create_task(read())
        task.add_done_callback(_settled)
        self._pages[url] = (time.monotonic(), task)

    async def take(self, url: str) -> T | None:
        """The page read ahead for ``url`` (waiting for it if it is still being read), or
        None: none was, it failed (the request reads it itself), or it is too old."""
        started, task = self._pages.pop(url, (0.0, None))
        if task is None or time.monotonic() - started > self.keep_seconds:
            return None
        try:
            page = await asyncio.shield(task)
        except Exception:  # the request reads the page itself and meets the error there
            return None
        if page is not None:
            self.served += 1
        return page

    def _expire(self) -> None:
        now = time.monotonic()
        for url, (started, _) in list(self._pages.items()):
            if now - started > self.keep_seconds:
                del self._pages[url]  # a running read ends by itself; its page is dropped


def _settled(task: asyncio.Task) -> None:
    """A read's failure is the request's to meet, not an unretrieved task's warning."""
    if not task.cancelled():
        task.exception()
