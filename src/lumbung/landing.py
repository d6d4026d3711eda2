"""Landing files into ``raw``: one batch per file, streaming ``COPY``, every row accounted for.

A row is either loaded (into its raw table, as received) or quarantined (into
``audit.quarantine`` with the reason). A file whose shape is wrong as a whole (empty, missing
or unknown columns, truncated archive) is rejected: its batch records why and no row of it is
loaded. The same file content delivered twice for the same dataset and partition is landed
once.

Formats plug in as *readers*: a reader turns one file into one or more ``Part`` (a raw table,
the file's header, and its records). CSV is built in (``read_csv``); sources with other
formats (JSON, XLSX, zip archives of tables) provide their own reader. A part may instead
bring its rows as ready ``Chunk`` of CSV bytes (its reader numbered and checked them in bulk):
PostgreSQL then parses them, which is several times faster than passing rows one by one.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.copy import LibpqWriter

log = logging.getLogger(__name__)

PROGRESS_EVERY = 500_000
# Bytes of chunks handed to libpq before waiting for them to be sent: the next chunk is
# prepared while the server parses these (1 MiB, psycopg's default, left it idle at times).
SEND_AHEAD = 8 << 20


@dataclass(frozen=True)
class DatasetSpec:
    """How one kind of landing file (or one table inside it) maps onto its raw table."""

    source: str
    dataset: str
    schema: str
    table: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class Record:
    """One record as read from a file: its values in header order, or why it is unusable."""

    number: int  # line (CSV), row (spreadsheet) or item (JSON) number, for people to find it
    values: list[str | None] | None
    raw: str = ""  # the record as received; needed only when it is rejected
    problem: str | None = None
    column: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class Chunk:
    """Rows of a part ready for ``COPY ... (format csv)``: each line is ``_batch_id``,
    ``_row_number`` and the values in header order, with the part's delimiter; ``rows`` lines
    in all. ``rejects`` are the records of the same stretch of the file that were not loaded.
    """

    data: bytes
    rows: int
    rejects: Sequence[Record] = ()


@dataclass
class Part:
    """The records of one raw table from one file (a CSV file, or one table of an archive).

    ``chunks``, when set, replaces ``records``: given the batch id, it yields the part's rows
    as CSV chunks (see ``Chunk``) written with ``delimiter``.
    """

    spec: DatasetSpec
    header: list[str]
    records: Iterable[Record]
    name: str = ""
    chunks: Callable[[int], Iterator[Chunk]] | None = None
    delimiter: str = ","


Reader = Callable[[Path, DatasetSpec], Iterator[Part]]


@dataclass
class BatchOutcome:
    """What happened to one file; serialisable so Airflow can pass it between tasks."""

    batch_id: int
    source: str
    dataset: str
    partition_key: str
    file_path: str
    status: str
    rows_received: int | None
    rows_loaded: int | None
    rows_quarantined: int | None
    reason: str | None
    already_landed: bool
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if self.already_landed:
            return f"{self.file_path}: already landed as batch {self.batch_id} ({self.status})"
        if self.status == "rejected":
            return f"{self.file_path}: REJECTED as batch {self.batch_id}: {self.reason}"
        return (
            f"{self.file_path}: batch {self.batch_id} received {self.rows_received}, "
            f"loaded {self.rows_loaded}, quarantined {self.rows_quarantined} "
            f"in {self.seconds:.2f}s"
        )


class BatchRejected(ValueError):
    """The file as a whole cannot be landed."""


def file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def check_header(header: list[str], spec: DatasetSpec) -> list[str]:
    """The header's column names, or BatchRejected naming what is missing or unexpected."""
    names = [(h or "").strip() for h in header]
    missing = [c for c in spec.required if c not in names]
    unknown = [c for c in names if c not in spec.columns]
    duplicated = sorted({c for c in names if names.count(c) > 1})
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s) {', '.join(unknown)}")
    if duplicated:
        problems.append(f"duplicated column(s) {', '.join(duplicated)}")
    if problems:
        raise BatchRejected(
            "header does not match the "
            f"{spec.source} {spec.dataset} layout: {'; '.join(problems)} "
            f"(expected {', '.join(spec.required)}"
            + (f"; optional {', '.join(spec.optional)}" if spec.optional else "")
            + ")"
        )
    return names


def _as_received(record: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(record)
    return buf.getvalue().encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def csv_records(lines: Iterable[str], header: list[str], first_line: int = 2) -> Iterator[Record]:
    """Records of a CSV body: field count and UTF-8 checked; blank lines are no records."""
    reader = csv.reader(lines, strict=False)
    line = first_line
    for fields in reader:
        number, line = line, first_line + reader.line_num
        if not fields:
            continue
        if len(fields) != len(header):
            yield Record(number, None, _as_received(fields),
                         f"expected {len(header)} fields, found {len(fields)}")
            continue
        bad = next((i for i, v in enumerate(fields) if not v.isascii() and _undecodable(v)), None)
        if bad is not None:
            shown = fields[bad].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            yield Record(number, None, _as_received(fields), "not valid UTF-8 text", header[bad],
                         shown)
            continue
        yield Record(number, fields)


def _undecodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def read_csv(path: Path, spec: DatasetSpec) -> Iterator[Part]:
    """A UTF-8 CSV file (a BOM is fine) with a header row naming the spec's columns."""
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        first = next(csv.reader([fh.readline()]), None)
        if not first:
            raise BatchRejected("empty file: no header and no rows")
        header = check_header(first, spec)
        yield Part(spec, header, csv_records(fh, header))


def _existing_batch(
    conn: psycopg.Connection, spec: DatasetSpec, partition_key: str, content_hash: str
) -> tuple | None:
    return conn.execute(
        """
        select batch_id, status, rows_received, rows_loaded, rows_quarantined, status_reason
        from audit.load_batches
        where source = %s and dataset = %s and partition_key = %s and content_hash = %s
        """,
        (spec.source, spec.dataset, partition_key, content_hash),
    ).fetchone()


GENERATED_MANIFEST = "generated_manifest.json"


@functools.lru_cache(maxsize=64)
def _manifest_files(manifest: Path, mtime_ns: int) -> dict[str, str]:
    """The files a generator manifest lists (path relative to its folder -> sha256); read
    once per manifest version, not once per landed file."""
    data = json.loads(manifest.read_text(encoding="utf-8"))
    return dict(data.get("files", {}))


def data_origin(path: Path, content_hash: str) -> str:
    """``generated`` when a ``generated_manifest.json`` in one of the file's folders lists
    it (relative path, posix) with this very content, else ``real``: a file edited after
    generation, or one the generator never wrote, counts as real."""
    path = path.resolve()
    for folder in path.parents:
        manifest = folder / GENERATED_MANIFEST
        if not manifest.is_file():
            continue
        files = _manifest_files(manifest, manifest.stat().st_mtime_ns)
        if files.get(path.relative_to(folder).as_posix()) == content_hash:
            return "generated"
    return "real"


def land_file(
    conn: psycopg.Connection,
    spec: DatasetSpec,
    path: Path,
    partition_key: str = "",
    *,
    reader: Reader = read_csv,
    display_path: str | None = None,
    dag_id: str | None = None,
    run_id: str | None = None,
) -> BatchOutcome:
    """Land one file as one batch, in one transaction (all or nothing).

    ``spec`` names the batch's source and dataset; the reader's parts say which raw table
    each record goes to.
    """
    started = time.monotonic()
    shown = display_path or str(path)
    content_hash, size = file_digest(path)
    with conn.transaction():
        # Two runs landing the same file at once would otherwise both insert it.
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (content_hash,))
        existing = _existing_batch(conn, spec, partition_key, content_hash)
        if existing:
            batch_id, status, received, loaded, quarantined, reason = existing
            return BatchOutcome(
                batch_id, spec.source, spec.dataset, partition_key, shown, status, received,
                loaded, quarantined, reason, True, time.monotonic() - started,
            )
        batch_id = conn.execute(
            """
            insert into audit.load_batches
                (source, dataset, partition_key, file_name, file_path, content_hash,
                 file_bytes, dag_id, run_id, data_origin)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            returning batch_id
            """,
            (spec.source, spec.dataset, partition_key, path.name, shown, content_hash, size,
             dag_id, run_id, data_origin(path, content_hash)),
        ).fetchone()[0]
        try:
            with conn.transaction():  # a savepoint: a rejected file leaves no rows behind
                received = loaded = 0
                for part in reader(path, spec):
                    got, ok = _copy_part(conn, part, batch_id, shown)
                    received, loaded = received + got, loaded + ok
                if received == 0:
                    raise BatchRejected("no data rows after the header")
        except BatchRejected as err:
            reason = f"{shown}: {err}"
            log.error("rejected %s", reason)
            conn.execute(
                """
                update audit.load_batches
                set status = 'rejected', status_reason = %s, finished_at = now()
                where batch_id = %s
                """,
                (reason, batch_id),
            )
            return BatchOutcome(
                batch_id, spec.source, spec.dataset, partition_key, shown, "rejected", None,
                None, None, reason, False, time.monotonic() - started,
            )
        quarantined = received - loaded
        conn.execute(
            """
            update audit.load_batches
            set status = 'loaded', rows_received = %s, rows_loaded = %s,
                rows_quarantined = %s, loaded_at = now()
            where batch_id = %s
            """,
            (received, loaded, quarantined, batch_id),
        )
    outcome = BatchOutcome(
        batch_id, spec.source, spec.dataset, partition_key, shown, "loaded", received, loaded,
        quarantined, None, False, time.monotonic() - started,
    )
    log.info("%s", outcome.describe())
    return outcome


def land_csv(
    conn: psycopg.Connection, spec: DatasetSpec, path: Path, partition_key: str = "", **kwargs
) -> BatchOutcome:
    return land_file(conn, spec, path, partition_key, reader=read_csv, **kwargs)


def _copy_part(
    conn: psycopg.Connection, part: Part, batch_id: int, shown: str
) -> tuple[int, int]:
    """COPY one part's good records; quarantine the others. Memory stays flat: rejected
    records are spilled to a temporary file and copied after the part's COPY ends."""
    spec = part.spec
    columns = sql.SQL(", ").join(map(sql.Identifier, ["_batch_id", "_row_number", *part.header]))
    received = loaded = 0
    where = f" ({part.name})" if part.name else ""
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spill:
        rejects = csv.writer(spill)

        def reject(record: Record) -> None:
            rejects.writerow((batch_id, record.number, record.raw,
                              (record.problem or "unreadable") + where,
                              record.column, record.value))

        if part.chunks is not None:
            # Empty values stay '' (not NULL), as on the record path.
            copy_sql = sql.SQL(
                "copy {}.{} ({}) from stdin "
                "(format csv, delimiter {}, encoding 'UTF8', force_not_null ({}))"
            ).format(sql.Identifier(spec.schema), sql.Identifier(spec.table), columns,
                     sql.Literal(part.delimiter),
                     sql.SQL(", ").join(map(sql.Identifier, part.header)))
            with conn.cursor() as cur:
                writer = LibpqWriter(cur, flush_threshold=SEND_AHEAD)
                with cur.copy(copy_sql, writer=writer) as copy:
                    for chunk in part.chunks(batch_id):
                        copy.write(chunk.data)
                        for record in chunk.rejects:
                            reject(record)
                        before = received
                        received += chunk.rows + len(chunk.rejects)
                        loaded += chunk.rows
                        if received // PROGRESS_EVERY > before // PROGRESS_EVERY:
                            log.info("%s%s: %s rows read", shown, where, f"{received:,}")
                # PostgreSQL parsed the chunks: it must have found the rows they hold.
                if cur.rowcount != loaded:
                    raise RuntimeError(f"{shown}{where}: {loaded} rows sent, "
                                       f"{cur.rowcount} copied")
        else:
            copy_sql = sql.SQL("copy {}.{} ({}) from stdin").format(
                sql.Identifier(spec.schema), sql.Identifier(spec.table), columns)
            with conn.cursor() as cur, cur.copy(copy_sql) as copy:
                for record in part.records:
                    received += 1
                    if record.values is None or record.problem:
                        reject(record)
                        continue
                    copy.write_row((batch_id, record.number, *record.values))
                    loaded += 1
                    if received % PROGRESS_EVERY == 0:
                        log.info("%s%s: %s rows read", shown, where, f"{received:,}")
        if received > loaded:
            spill.seek(0)
            with conn.cursor() as cur, cur.copy(
                "copy audit.quarantine (batch_id, row_number, raw_record, reason, column_name, "
                "value) from stdin with (format csv)"
            ) as copy:
                for chunk in iter(lambda: spill.read(1 << 16), ""):
                    copy.write(chunk)
    return received, loaded
