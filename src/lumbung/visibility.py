"""When accepted batches become visible to dbt: all of a delivery at once, or none of it.

The gate accepts batches one by one (``validated``), but dbt must never see half of what a
run delivered. So a gate run ends with :func:`release`: in one transaction, every batch it
accepted gets the same number of the sequence ``audit.visible_seq``
(``audit.load_batches.visible_seq``). A dbt build pins the highest number released when it
starts (:func:`pin`) and stores it in ``audit.dbt_pin`` (:func:`set_pin`; a dbt var would
make dbt parse the whole project again whenever it changes); staging reads only validated
batches numbered at or below it (the macro ``batch_is_visible``). A gate that is half-way,
or that releases while a build runs, changes nothing that build reads. Builds run one at a
time (one Airflow pool slot), so one pin row serves them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import psycopg

from lumbung.config import PgUrl

log = logging.getLogger(__name__)

def release(warehouse: PgUrl | psycopg.Connection, batch_ids: Iterable[int]) -> int | None:
    """Make the accepted (``validated``) batches among ``batch_ids`` that are not visible
    yet visible, all with one new number, in one transaction; returns that number, or None
    when none was released. Running it again releases nothing more."""
    ids = sorted({int(b) for b in batch_ids})
    if not ids:
        return None
    if isinstance(warehouse, psycopg.Connection):
        return _release(warehouse, ids)
    with psycopg.connect(warehouse.url()) as conn:
        return _release(conn, ids)


def _release(conn: psycopg.Connection, ids: list[int]) -> int | None:
    with conn.transaction():
        # Releases one at a time, so numbers commit in order: a pin never sees a number
        # while a smaller one is still to commit (which a later read would then include).
        conn.execute("select pg_advisory_xact_lock(hashtext('lumbung.visible_seq'))")
        todo = conn.execute(
            "select batch_id from audit.load_batches where batch_id = any(%s) "
            "and status = 'validated' and visible_seq is null",
            (ids,),
        ).fetchall()
        if not todo:
            return None
        number = conn.execute("select nextval('audit.visible_seq')").fetchone()[0]
        conn.execute(
            "update audit.load_batches set visible_seq = %s, released_at = now() "
            "where batch_id = any(%s)",
            (number, [row[0] for row in todo]),
        )
    log.info("released %d accepted batch(es) to dbt as visibility #%d", len(todo), number)
    return number


def pin(warehouse: PgUrl | psycopg.Connection) -> int:
    """The highest visibility number released so far (0 before any): a build that reads up
    to it sees every delivery released before it started, each whole."""
    if isinstance(warehouse, psycopg.Connection):
        return _pin(warehouse)
    with psycopg.connect(warehouse.url()) as conn:
        return _pin(conn)


def _pin(conn: psycopg.Connection) -> int:
    row = conn.execute("select coalesce(max(visible_seq), 0) from audit.load_batches").fetchone()
    return int(row[0])


def set_pin(warehouse: PgUrl, number: int, tested_after: int | None = None) -> None:
    """Pin the next dbt build at ``number``: staging reads batches released up to it. Its
    staging tests check the rows of batches released after ``tested_after`` (None: all;
    the dbt macro ``batches_to_test``)."""
    with psycopg.connect(warehouse.url()) as conn:
        conn.execute(
            "insert into audit.dbt_pin (one_row, visible_seq, tested_after) "
            "values (true, %s, %s) "
            "on conflict (one_row) do update set visible_seq = excluded.visible_seq, "
            "tested_after = excluded.tested_after, pinned_at = now()",
            (int(number), tested_after),
        )
