"""A batch's way through the gate in ``audit.load_batches``: ``loaded -> validating ->
validated | failed``, and what the gate reads there (the batch, its landing notes, the
previous delivery to compare its size with).

One gate runs at a time (a session advisory lock, ``lock``), which is what makes "one batch
'validating' per dataset" hold: a batch left 'validating' by a run that died is stale and is
put back to 'loaded' by the next claim.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import psycopg

from lumbung.families import BY_NAME
from lumbung.landing import Batch
from lumbung.quality.results import partition_regency
from lumbung.quality.rules import MAX_ROWS, MIN_ROWS, WARNING
from lumbung.quality.verdict import RuleFailure
from lumbung.sources import kemendagri

log = logging.getLogger(__name__)

# advisory lock keys (hashed by Postgres): one per source, and one for the data docs site
GATE_LOCK = "lumbung.quality.gate"
DOCS_LOCK = "lumbung.quality.data_docs"
LOCK_TIMEOUT = "15min"  # how long a gate run waits for another to finish
GATEABLE = ("loaded", "validating", "validated", "failed")
LANDING_RULE = "landing"
STALE = "left validating by an interrupted gate run; reset"


def lock(conn: psycopg.Connection, source: str) -> None:
    """Wait for any other gate run of the source to finish; held until the connection
    closes. Gates of different sources run side by side: a gate view shows the batches of
    its own source under validation, and nothing of another's."""
    _advisory_lock(conn, f"{GATE_LOCK}:{source}")


def lock_docs(conn: psycopg.Connection) -> None:
    """Wait for any other build of the data docs site to finish (they write the same
    files); held until the connection closes."""
    _advisory_lock(conn, DOCS_LOCK)


def _advisory_lock(conn: psycopg.Connection, key: str) -> None:
    conn.execute(f"set lock_timeout = '{LOCK_TIMEOUT}'")
    conn.execute("select pg_advisory_lock(hashtext(%s))", (key,))
    conn.execute("reset lock_timeout")


def load_batch(conn: psycopg.Connection, batch_id: int) -> Batch:
    row = conn.execute(
        """
        select batch_id, source, dataset, partition_key, file_path, status
        from audit.load_batches where batch_id = %s
        """,
        (batch_id,),
    ).fetchone()
    if row is None:
        raise LookupError(f"no batch {batch_id} in audit.load_batches")
    return Batch(*row)


def load_batches(conn: psycopg.Connection, batch_ids: Iterable[int]) -> dict[int, Batch]:
    """Many batches in one query, in the order asked; LookupError naming the first unknown."""
    ids = list(batch_ids)
    found = {row[0]: Batch(*row) for row in conn.execute(
        """
        select batch_id, source, dataset, partition_key, file_path, status
        from audit.load_batches where batch_id = any(%s)
        """,
        (ids,),
    )}
    for batch_id in ids:
        if batch_id not in found:
            raise LookupError(f"no batch {batch_id} in audit.load_batches")
    return {batch_id: found[batch_id] for batch_id in ids}


def _gateable(batch: Batch) -> Batch:
    if batch.status not in GATEABLE:
        raise ValueError(
            f"batch {batch.batch_id} ({batch.file_path}) is '{batch.status}': only landed "
            "batches can be validated"
        )
    return batch


def load_gateables(conn: psycopg.Connection, batch_ids: Iterable[int]) -> dict[int, Batch]:
    """``load_gateable`` of many batches, in one query."""
    return {i: _gateable(b) for i, b in load_batches(conn, batch_ids).items()}


def load_gateable(conn: psycopg.Connection, batch_id: int) -> Batch:
    """The batch, if it may be gated: ValueError for one 'received' or 'rejected'."""
    return _gateable(load_batch(conn, batch_id))


def landing_notes(conn: psycopg.Connection, batch_ids: Iterable[int]) -> dict[int, str]:
    """What landing noted about each file that it noted something about (no data rows, a
    disguised format, an encoding other than UTF-8)."""
    return dict(conn.execute(
        "select batch_id, landing_notes from audit.load_batches "
        "where batch_id = any(%s) and landing_notes <> ''",
        (list(batch_ids),),
    ).fetchall())


def note_warnings(note: str | None) -> list[RuleFailure]:
    """A landing note as the warnings of the batch's verdict."""
    return [RuleFailure(LANDING_RULE, "landing", None, WARNING, None, [], note)] if note else []


def landing_warnings(conn: psycopg.Connection, batch_id: int) -> list[RuleFailure]:
    """What landing noted about the file, as warnings of its verdict."""
    return note_warnings(landing_notes(conn, [batch_id]).get(batch_id))


def claim(conn: psycopg.Connection, source: str, batch_ids: list[int]) -> None:
    """Reset stale 'validating' batches of the source, then mark these 'validating'.

    Only called with the source's gate lock held: no other gate of the source runs, so any
    'validating' batch of it was left by a run that died. Resetting the whole source (not
    only this dataset) matters because the accepted_* views let a stale 'validating' parent
    batch vouch for children.
    """
    reason = f"{STALE} by batch {batch_ids[0]}" if len(batch_ids) == 1 else STALE
    with conn.transaction():
        stale = conn.execute(
            """
            update audit.load_batches
            set status = 'loaded', status_reason = %s
            where source = %s and status = 'validating' and not (batch_id = any(%s))
            returning batch_id
            """,
            (reason, source, batch_ids),
        ).fetchall()
        for (stale_id,) in stale:
            log.warning("batch %s was left 'validating'; reset to 'loaded'", stale_id)
        conn.execute(
            """
            update audit.load_batches
            set status = 'validating', status_reason = null, validated_at = null,
                finished_at = null
            where batch_id = any(%s)
            """,
            (batch_ids,),
        )


def unclaim(conn: psycopg.Connection, batch_ids: Iterable[int]) -> None:
    """Back to 'loaded' without a verdict (to be judged another way)."""
    conn.execute(
        "update audit.load_batches set status = 'loaded' "
        "where batch_id = any(%s) and status = 'validating'",
        (list(batch_ids),),
    )


def finish(conn: psycopg.Connection, verdicts: Iterable[tuple[int, bool, str | None]]) -> None:
    """Each (batch id, passed, reason): 'validated' or 'failed', with the reason; in one
    statement, whatever their number."""
    ids, passes, reasons = [], [], []
    for batch_id, passed, reason in verdicts:
        ids.append(batch_id)
        passes.append(passed)
        reasons.append(reason)
    conn.execute(
        """
        update audit.load_batches as b
        set status = case when v.passed then 'validated' else 'failed' end,
            status_reason = v.reason, finished_at = now(),
            validated_at = case when v.passed then now() else null end
        from unnest(%s::bigint[], %s::boolean[], %s::text[]) as v (batch_id, passed, reason)
        where b.batch_id = v.batch_id
        """,
        (ids, passes, reasons),
    )


def release(conn: psycopg.Connection, batch_id: int, error: BaseException) -> None:
    """The gate itself broke (not the data): back to 'loaded', so a rerun validates again.

    If even that fails (the warehouse went away), the batch stays 'validating' and the next
    gate run resets it; the original error is what the caller sees.
    """
    try:
        conn.execute(
            """
            update audit.load_batches
            set status = 'loaded', status_reason = %s
            where batch_id = %s and status = 'validating'
            """,
            (f"quality gate could not run: {type(error).__name__}: {error}"[:2000], batch_id),
        )
    except psycopg.Error:
        log.exception("could not put batch %s back to 'loaded'", batch_id)


# --- the size of the previous delivery -----------------------------------------------------


def row_count_bounds(reference_rows: int | None) -> dict[str, int | None]:
    """90 % to 110 % of the reference batch's rows; with no reference, at least one row."""
    if reference_rows is None:
        return {MIN_ROWS: 1, MAX_ROWS: None}
    return {
        MIN_ROWS: max(1, reference_rows * 9 // 10),
        MAX_ROWS: -(-reference_rows * 11 // 10),
    }


def delivery_pattern(source: str, partition_key: str) -> str:
    """LIKE pattern of the partition keys of earlier deliveries comparable with this one.

    Sources delivered per regency or village compare a delivery with the previous one of
    the same regency (APBDes ``<regency>/<year>``: its other years and revisions) or village
    (IDM ``<year>/<kode_desa>``); a whole-province source (the region master, ...) with the
    previous delivery of the dataset, whatever its partition.
    """
    if partition_regency(source, partition_key):
        # the part naming the regency or village kept, every other part any
        keep = BY_NAME[source].regency.partition_part
        parts = partition_key.split("/")
        return "/".join(p if i == keep % len(parts) else "%" for i, p in enumerate(parts))
    return "%"


def reference_rows(conn: psycopg.Connection, batch: Batch) -> int | None:
    """Rows of the previous accepted delivery to compare with (a sudden drop is suspicious):
    the latest validated batch of the same dataset and, for sources delivered per regency
    or village, of the same regency or village (another partition, or an earlier batch of
    the same partition).

    Only the same dataset counts, so a synthetic supplement of the region master never is
    the reference of a real delivery; and a supplement has none itself: its size is what
    ``lumbung generate --scale`` asked for, not a delivery that may have lost rows.
    """
    if batch.source == kemendagri.SOURCE and kemendagri.is_synthetic(batch.dataset):
        return None
    row = conn.execute(
        """
        select rows_loaded from audit.load_batches
        where source = %s and dataset = %s and status = 'validated' and batch_id <> %s
            and partition_key like %s
            and (partition_key <> %s or batch_id < %s)
        order by validated_at desc nulls last, batch_id desc
        limit 1
        """,
        (batch.source, batch.dataset, batch.batch_id,
         delivery_pattern(batch.source, batch.partition_key), batch.partition_key,
         batch.batch_id),
    ).fetchone()
    return None if row is None else row[0]

