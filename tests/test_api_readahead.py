"""The API's read-ahead (lumbung.api.readahead) on its own: what it keeps and for how long.
A harvest served from it over HTTP is in tests/test_api.py."""

from __future__ import annotations

import asyncio

from lumbung.api.readahead import ReadAhead


def _page(text: str):
    async def read():
        await asyncio.sleep(0)
        return text
    return read


def test_a_page_read_ahead_is_served_once_to_its_url():
    async def run():
        ahead = ReadAhead()
        ahead.start("/rows?after=a", _page("page a"))
        ahead.start("/rows?after=a", _page("again"))  # being read already: not twice
        assert await ahead.take("/rows?after=b") is None
        assert await ahead.take("/rows?after=a") == "page a"
        assert await ahead.take("/rows?after=a") is None
        return ahead.served

    assert asyncio.run(run()) == 1


def test_old_pages_failed_reads_and_more_than_max_pages_are_not_served():
    async def failing():
        raise RuntimeError("the warehouse went away")

    async def run():
        stale = ReadAhead(keep_seconds=0.0)
        stale.start("/old", _page("old"))
        await asyncio.sleep(0.01)
        assert await stale.take("/old") is None
        few = ReadAhead(max_pages=2)
        for n in range(4):
            few.start(f"/p{n}", _page(f"p{n}"))
        few.start("/failing", failing)
        assert [await few.take(f"/p{n}") for n in range(4)] == ["p0", "p1", None, None]
        few.start("/failing", failing)
        assert await few.take("/failing") is None
        return stale.served + few.served

    assert asyncio.run(run()) == 2
