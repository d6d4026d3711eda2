"""Landing many small files (an IDM response per desa and year: about 50 rows each), each
its own batch exactly as ``landing.land_file`` lands it, but a group of them per
transaction.

A file of 50 rows costs ``land_file`` a dozen round trips (lock, lookup, insert, savepoint,
two COPYs, update, commit) for very little data. Here a group's files are read first, then
their batches, rows and quarantined rows go in with a few statements for the whole group.
A file that cannot be read is rejected alone, as ``land_file`` rejects it; a group the
warehouse refuses is rolled back and landed again file by file with ``land_file``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from lumbung.config import limits
from lumbung.landing import (
    EXAMPLES_KEPT,
    BatchOutcome,
    BatchRejected,
    Budget,
    DatasetSpec,
    Reader,
    collecting_notes,
    data_origin,
    file_digest,
    land_file,
    storable,
)
from lumbung.sources import encoding

log = logging.getLogger(__name__)

GROUP = 500  # files per transaction


@dataclass(frozen=True)
class SmallFile:
    path: Path
    partition_key: str
    reader: Reader
    display_path: str


@dataclass
class _Read:
    """One file of a group, read: its good rows per raw table, its quarantined rows (batch
    id first, filled in once known), or why it is rejected."""

    file: SmallFile
    content_hash: str
    size: int
    shown: str
    rows: dict[tuple[str, str, tuple[str, ...]], list[tuple]] = field(default_factory=dict)
    quarantined: list[list] = field(default_factory=list)
    received: int = 0
    loaded: int = 0
    reason: str | None = None
    examples: list[list] = field(default_factory=list)
    notes: str | None = None
    seconds: float = 0.0
    batch_id: int | None = None


def land_small_files(conn: psycopg.Connection, spec: DatasetSpec, files: Sequence[SmallFile],
                     dag_id: str | None = None, run_id: str | None = None,
                     ) -> list[BatchOutcome]:
    """One outcome per file, in order, as ``land_file`` would give them."""
    outcomes: list[BatchOutcome] = []
    for start in range(0, len(files), GROUP):
        group = files[start:start + GROUP]
        try:
            outcomes += _land_group(conn, spec, group, dag_id, run_id)
        except psycopg.Error as err:
            if conn.closed:
                raise  # the warehouse is gone: nothing can be recorded
            log.warning("landing %d files together failed (%s); landing them one by one",
                        len(group), err)
            outcomes += [land_file(conn, spec, f.path, f.partition_key, reader=f.reader,
                                   display_path=f.display_path, dag_id=dag_id, run_id=run_id)
                         for f in group]
    return outcomes


def _read(file: SmallFile, spec: DatasetSpec, content_hash: str, size: int) -> _Read:
    started = time.monotonic()
    read = _Read(file, content_hash, size, encoding.shown(file.display_path))
    budget = Budget(limits().quarantined_rows)
    with collecting_notes() as notes:
        try:
            for part in file.reader(file.path, spec):
                if part.chunks is not None:
                    raise TypeError("small files are read record by record")
                where = f" ({part.name})" if part.name else ""
                rows = read.rows.setdefault(
                    (part.spec.schema, part.spec.table, tuple(part.header)), [])
                for record in part.records:
                    if not part.file_level:
                        read.received += 1
                    if record.values is None or record.problem:
                        row = [None, record.number, storable(record.raw),
                               storable(record.problem or "unreadable") + where,
                               storable(record.column), storable(record.value)]
                        budget.spend(row)
                        read.quarantined.append(row)
                        continue
                    rows.append((record.number, *record.values))
                    if not part.file_level:
                        read.loaded += 1
            if read.received == 0:
                notes.add("no data rows: the file holds a header only")
        except (BatchRejected, encoding.NotText) as err:
            read.reason = f"{read.shown}: {storable(str(err))}"
            read.examples = list(getattr(err, "examples", []))[:EXAMPLES_KEPT]
        except Exception as err:
            read.reason = (f"{read.shown}: could not be read "
                           f"({type(err).__name__}: {storable(str(err))})")
            log.exception("landing %s failed", read.shown)
    read.notes = storable("; ".join(notes.items)) or None
    read.seconds = time.monotonic() - started
    return read


_EXISTING = """
select b.partition_key, b.content_hash, b.batch_id, b.status, b.rows_received,
       b.rows_loaded, b.rows_quarantined, b.status_reason
from audit.load_batches as b
inner join unnest(%s::text[], %s::text[]) as f (partition_key, content_hash)
    on b.partition_key = f.partition_key and b.content_hash = f.content_hash
where b.source = %s and b.dataset = %s
"""

_INSERT = """
insert into audit.load_batches
    (source, dataset, partition_key, file_name, file_path, content_hash, file_bytes, dag_id,
     run_id, data_origin, status, status_reason, rows_received, rows_loaded,
     rows_quarantined, landing_notes, loaded_at, finished_at)
values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
        case when %s then now() end, case when %s then now() end)
returning batch_id
"""


def _land_group(conn: psycopg.Connection, spec: DatasetSpec, group: Sequence[SmallFile],
                dag_id: str | None, run_id: str | None) -> list[BatchOutcome]:
    started = time.monotonic()
    digests = [file_digest(f.path) for f in group]
    keys = [(f.partition_key, h) for f, (h, _) in zip(group, digests, strict=True)]
    with conn.transaction():
        # As land_file: two runs landing the same file at once would both insert it. Taken
        # in one order, so two groups never wait on each other in a circle.
        conn.execute("select pg_advisory_xact_lock(hashtext(h)) "
                     "from (select distinct h from unnest(%s::text[]) as h order by h) as s",
                     ([h for h, _ in digests],))
        existing = {(r[0], r[1]): r[2:] for r in conn.execute(
            _EXISTING, ([k for k, _ in keys], [h for _, h in keys], spec.source, spec.dataset))}
        reads: dict[tuple[str, str], _Read] = {}
        for file, key, (content_hash, size) in zip(group, keys, digests, strict=True):
            if key not in existing and key not in reads:
                reads[key] = _read(file, spec, content_hash, size)
        new = list(reads.values())
        if new:
            _insert_batches(conn, spec, new, dag_id, run_id)
            _copy_rows(conn, new)
    share = (time.monotonic() - started - sum(r.seconds for r in new)) / len(group)
    outcomes = []
    for file, key in zip(group, keys, strict=True):
        read = reads.get(key)
        if key in existing or read is None or read.file is not file:
            outcomes.append(_already(spec, file, existing.get(key), read))
            continue
        outcome = _outcome(spec, read, False, read.seconds + share)
        if read.reason:
            log.error("rejected %s", read.reason)
        else:
            log.info("%s", outcome.describe())
        outcomes.append(outcome)
    return outcomes


def _insert_batches(conn: psycopg.Connection, spec: DatasetSpec, new: list[_Read],
                    dag_id: str | None, run_id: str | None) -> None:
    """A batch row per file read, in its final state; their ids onto the reads."""
    manifests: dict = {}  # the group's folders share their generator manifests
    with conn.cursor() as cur:
        cur.executemany(_INSERT, [
            (spec.source, spec.dataset, r.file.partition_key, encoding.shown(r.file.path.name),
             r.shown, r.content_hash, r.size, dag_id, run_id,
             data_origin(r.file.path, r.content_hash, manifests),
             "rejected" if r.reason else "loaded", r.reason,
             None if r.reason else r.received, None if r.reason else r.loaded,
             None if r.reason else r.received - r.loaded, None if r.reason else r.notes,
             r.reason is None, r.reason is not None)
            for r in new], returning=True)
        for position, read in enumerate(new):
            if position and not cur.nextset():
                raise RuntimeError(f"{len(new)} batches inserted, {position} ids returned")
            read.batch_id = cur.fetchone()[0]


def _outcome(spec: DatasetSpec, read: _Read, already: bool, seconds: float) -> BatchOutcome:
    rejected = read.reason is not None
    return BatchOutcome(
        read.batch_id, spec.source, spec.dataset, read.file.partition_key, read.shown,
        "rejected" if rejected else "loaded", None if rejected else read.received,
        None if rejected else read.loaded, None if rejected else read.received - read.loaded,
        read.reason, already, seconds, None if already else read.notes)


def _copy_rows(conn: psycopg.Connection, new: list[_Read]) -> None:
    """Every good row of the group per raw table, then every quarantined row (and the
    examples kept of files rejected for quarantining too many), each in one COPY."""
    tables: dict[tuple[str, str, tuple[str, ...]], list[tuple[int, _Read]]] = {}
    for read in new:
        if read.reason is None:
            for table in read.rows:
                tables.setdefault(table, []).append((read.batch_id, read))
    with conn.cursor() as cur:
        for (schema, table, header), reads in tables.items():
            columns = sql.SQL(", ").join(
                map(sql.Identifier, ["_batch_id", "_row_number", *header]))
            with cur.copy(sql.SQL("copy {}.{} ({}) from stdin").format(
                    sql.Identifier(schema), sql.Identifier(table), columns)) as copy:
                for batch_id, read in reads:
                    for row in read.rows[(schema, table, header)]:
                        copy.write_row((batch_id, *row))
        quarantined = [(read.batch_id, row) for read in new
                       for row in (read.examples if read.reason else read.quarantined)]
        if quarantined:
            with cur.copy("copy audit.quarantine (batch_id, row_number, raw_record, reason, "
                          "column_name, value) from stdin") as copy:
                for batch_id, row in quarantined:
                    copy.write_row((batch_id, *row[1:]))


def _already(spec: DatasetSpec, file: SmallFile, existing: tuple | None,
             read: _Read | None) -> BatchOutcome:
    """The outcome of a file landed before (or earlier in this group: the same content in
    the same partition), as ``land_file`` reports it."""
    shown = encoding.shown(file.display_path)
    if existing is None:
        return BatchOutcome(**{**_outcome(spec, read, True, 0.0).to_dict(), "file_path": shown})
    batch_id, status, received, loaded, quarantined, reason = existing
    return BatchOutcome(batch_id, spec.source, spec.dataset, file.partition_key, shown,
                        status, received, loaded, quarantined, reason, True, 0.0)
