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

Whatever a file holds, landing it ends with exactly one batch row and a verdict: text is read
in the encoding it came in (``sources.encoding``), a file over a limit (``config.Limits``: one
field's length, rows quarantined, an archive's size) is rejected whole naming the limit, and
an unexpected error while reading rejects the file with the error as its reason instead of
leaving no trace. Rows count data rows only: a part marked ``file_level`` (a file's inventory
of its members) is loaded but is no row of the file, and a file with a header and no data
lands with zero rows and a note that the gate reports as a warning.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import logging
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.copy import LibpqWriter

from lumbung.config import Limits, limits
from lumbung.sources import encoding

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
    file_level: bool = False  # records about the file (an inventory), not rows of its data


Reader = Callable[[Path, DatasetSpec], Iterator[Part]]


@dataclass
class Batch:
    """One row of audit.load_batches: one landed file and where it stands."""

    batch_id: int
    source: str
    dataset: str
    partition_key: str
    file_path: str
    status: str


@dataclass
class BatchOutcome(Batch):
    """What happened to one file; serialisable so Airflow can pass it between tasks."""

    rows_received: int | None
    rows_loaded: int | None
    rows_quarantined: int | None
    reason: str | None
    already_landed: bool
    seconds: float
    notes: str | None = None  # warnings of landing (no data rows, a disguised format)

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
            f"in {self.seconds:.2f}s" + (f" ({self.notes})" if self.notes else "")
        )


class BatchRejected(ValueError):
    """The file as a whole cannot be landed."""


class TooManyQuarantined(BatchRejected):
    """More rows of one file would be quarantined than the limit allows; ``examples`` are
    the first of them, kept in audit.quarantine with the rejected batch."""

    def __init__(self, message: str, examples: list[tuple]) -> None:
        super().__init__(message)
        self.examples = examples


EXAMPLES_KEPT = 20  # quarantined rows kept of a file rejected for quarantining too many


@dataclass
class Notes:
    """Warnings the readers of one file leave for its batch (the gate reports them)."""

    items: list[str] = field(default_factory=list)

    def add(self, note: str) -> None:
        if note not in self.items:
            self.items.append(note)


_NOTES: list[Notes] = []  # the file being landed (a stack: landing does not nest, tests may)


@contextmanager
def collecting_notes() -> Iterator[Notes]:
    """The notes the readers leave while the block reads one file."""
    notes = Notes()
    _NOTES.append(notes)
    try:
        yield notes
    finally:
        _NOTES.pop()


def note(text: str) -> None:
    """Leave a warning on the batch of the file being landed (a no-op outside landing)."""
    if _NOTES:
        _NOTES[-1].add(text)


class Rows:
    """``csv.reader`` over a text stream with a bounded cost: no line is read whole past
    ``width`` fields of the field limit, and a field over the limit rejects the file (the
    csv module's own limit is set to it), so memory never grows with the longest value."""

    def __init__(self, text: Iterable[str], width: int, delimiter: str = ",",
                 limit: int | None = None) -> None:
        self.limit = limit if limit is not None else limits().field_chars
        self.cap = max(width, 1) * (self.limit + 3) + 2  # the longest line of fields in limit
        self.text = text
        csv.field_size_limit(self.limit)
        self.reader = csv.reader(self._lines(), delimiter=delimiter, strict=False)

    @property
    def line_num(self) -> int:
        return self.reader.line_num

    def _lines(self) -> Iterator[str]:
        readline = getattr(self.text, "readline", None)
        if readline is None:
            for line in self.text:
                self._check(line)
                yield line
            return
        while line := readline(self.cap + 1):
            self._check(line)
            yield line

    def _check(self, line: str) -> None:
        if len(line) > self.cap:
            raise BatchRejected(
                f"line {self.reader.line_num + 2} is longer than {self.cap:,} characters: a "
                f"value is over the limit of one field "
                f"({Limits.ENV['field_chars']}={self.limit})")

    def __iter__(self) -> Iterator[list[str]]:
        try:
            yield from self.reader
        except csv.Error as err:
            if "field larger than field limit" in str(err):
                raise BatchRejected(
                    f"near line {self.reader.line_num + 1}: a value is over the limit of one "
                    f"field ({Limits.ENV['field_chars']}={self.limit})") from None
            raise BatchRejected(f"unreadable CSV near line {self.reader.line_num + 1}: "
                                f"{err}") from None


def file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def header_problems(missing: Iterable[str], unknown: Iterable[str],
                    duplicated: Iterable[str]) -> list[str]:
    """What is wrong with a header, one phrase per kind of problem (none when it matches)."""
    kinds = (("missing", list(missing)), ("unknown", list(unknown)),
             ("duplicated", list(duplicated)))
    return [f"{kind} column(s) {', '.join(names)}" for kind, names in kinds if names]


def check_header(header: list[str], spec: DatasetSpec) -> list[str]:
    """The header's column names, or BatchRejected naming what is missing or unexpected."""
    names = [(h or "").strip() for h in header]
    problems = header_problems(
        [c for c in spec.required if c not in names],
        [c for c in names if c not in spec.columns],
        sorted({c for c in names if names.count(c) > 1}))
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
    return encoding.shown(buf.getvalue())


def text_problem(value: str) -> str | None:
    """Why a value read as text cannot be stored as received (PostgreSQL text holds neither
    undecodable bytes nor NUL), or None."""
    if encoding.undecodable(value):
        return "not valid UTF-8 text"
    if "\x00" in value:
        return "NUL character in the text (binary data?)"
    return None


def csv_records(lines: Iterable[str], header: list[str], first_line: int = 2) -> Iterator[Record]:
    """Records of a CSV body: field count and text checked; blank lines are no records."""
    reader = Rows(lines, len(header))
    line = first_line
    for fields in reader:
        number, line = line, first_line + reader.line_num
        if not fields:
            continue
        if len(fields) != len(header):
            yield Record(number, None, _as_received(fields),
                         f"expected {len(header)} fields, found {len(fields)}")
            continue
        bad = next(((i, p) for i, v in enumerate(fields)
                    if not v.isascii() or "\x00" in v if (p := text_problem(v))), None)
        if bad is not None:
            i, problem = bad
            yield Record(number, None, _as_received(fields), problem, header[i],
                         encoding.shown(fields[i]))
            continue
        yield Record(number, fields)


def open_text(path: Path) -> io.TextIOWrapper:
    """A text file in the encoding it came in (``sources.encoding``; NotText rejects it)."""
    raw = path.open("rb")
    try:
        found = encoding.detect(raw.read(encoding.SAMPLE))
        raw.seek(0)
        if not found.is_utf8:
            note(f"read as {found.name} text")
        return encoding.text(raw, found)
    except BaseException:
        raw.close()
        raise


def header_line(text: io.TextIOWrapper) -> str:
    """The first line of a text file, bounded like ``Rows``' lines."""
    cap = 64 * 1024
    line = text.readline(cap + 1)
    if len(line) > cap:
        raise BatchRejected(f"the header line is longer than {cap:,} characters")
    return line


def read_csv(path: Path, spec: DatasetSpec) -> Iterator[Part]:
    """A CSV file in any recognised encoding with a header row naming the spec's columns."""
    with open_text(path) as fh:
        first = next(csv.reader([header_line(fh)]), None)
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
    try:
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        # an unreadable manifest marks nothing generated: the file still gets its batch
        log.warning("ignoring unreadable generator manifest %s", manifest)
        return {}
    return dict(files) if isinstance(files, dict) else {}


def data_origin(path: Path, content_hash: str,
                manifests: dict[Path, tuple[Path, int] | None] | None = None) -> str:
    """``generated`` when a ``generated_manifest.json`` in one of the file's folders lists
    it (relative path, posix) with this very content, else ``real``: a file edited after
    generation, or one the generator never wrote, counts as real. ``manifests`` (folder ->
    its manifest and version, or None) spares files landed together looking up the same
    folders again."""
    path = path.resolve()
    for folder in path.parents:
        found = _folder_manifest(folder, manifests)
        if found is None:
            continue
        files = _manifest_files(*found)
        if files.get(path.relative_to(folder).as_posix()) == content_hash:
            return "generated"
    return "real"


def _folder_manifest(folder: Path, manifests: dict[Path, tuple[Path, int] | None] | None
                     ) -> tuple[Path, int] | None:
    """The folder's generator manifest and its version (None: it has none), remembered in
    ``manifests`` when given."""
    if manifests is not None and folder in manifests:
        return manifests[folder]
    manifest = folder / GENERATED_MANIFEST
    found = (manifest, manifest.stat().st_mtime_ns) if manifest.is_file() else None
    if manifests is not None:
        manifests[folder] = found
    return found


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
    each record goes to. Whatever the file holds, it ends as one batch row: loaded, or
    rejected with a reason (an error while reading rejects it too, with the error).
    """
    started = time.monotonic()
    shown = encoding.shown(display_path or str(path))
    name = encoding.shown(path.name)
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
            (spec.source, spec.dataset, partition_key, name, shown, content_hash, size,
             dag_id, run_id, data_origin(path, content_hash)),
        ).fetchone()[0]
        examples: list[tuple] = []
        with collecting_notes() as notes:
            try:
                with conn.transaction():  # a savepoint: a rejected file leaves no rows behind
                    received = loaded = 0
                    budget = Budget(limits().quarantined_rows)
                    for part in reader(path, spec):
                        got, ok = _copy_part(conn, part, batch_id, shown, budget)
                        if not part.file_level:
                            received, loaded = received + got, loaded + ok
                    if received == 0:
                        notes.add("no data rows: the file holds a header only")
            except (BatchRejected, encoding.NotText) as err:
                reason = f"{shown}: {storable(str(err))}"
                examples = getattr(err, "examples", [])
            except Exception as err:
                if isinstance(err, psycopg.OperationalError) and conn.closed:
                    raise  # the warehouse is gone: nothing can be recorded
                reason = f"{shown}: could not be read ({type(err).__name__}: {storable(str(err))})"
                log.exception("landing %s failed", shown)
            else:
                reason = None
        noted = storable("; ".join(notes.items)) or None
        if reason is not None:
            log.error("rejected %s", reason)
            conn.execute(
                """
                update audit.load_batches
                set status = 'rejected', status_reason = %s, finished_at = now()
                where batch_id = %s
                """,
                (reason, batch_id),
            )
            _keep_examples(conn, examples)
            return BatchOutcome(
                batch_id, spec.source, spec.dataset, partition_key, shown, "rejected", None,
                None, None, reason, False, time.monotonic() - started, noted,
            )
        quarantined = received - loaded
        conn.execute(
            """
            update audit.load_batches
            set status = 'loaded', rows_received = %s, rows_loaded = %s,
                rows_quarantined = %s, loaded_at = now(), landing_notes = %s
            where batch_id = %s
            """,
            (received, loaded, quarantined, noted, batch_id),
        )
    outcome = BatchOutcome(
        batch_id, spec.source, spec.dataset, partition_key, shown, "loaded", received, loaded,
        quarantined, None, False, time.monotonic() - started, noted,
    )
    log.info("%s", outcome.describe())
    return outcome


def _keep_examples(conn: psycopg.Connection, examples: list[tuple]) -> None:
    if not examples:
        return
    with conn.cursor() as cur, cur.copy(
        "copy audit.quarantine (batch_id, row_number, raw_record, reason, column_name, value) "
        "from stdin"
    ) as copy:
        for row in examples:
            copy.write_row(row)


_NUMBERS = re.compile(r"\d+")


class Budget:
    """Rows one file may still quarantine; past it the file is rejected with a summary."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0
        self.reasons: Counter[str] = Counter()
        self.examples: list[tuple] = []

    def spend(self, row: tuple) -> None:
        """Count one quarantined row (batch, number, raw, reason, column, value)."""
        self.used += 1
        self.reasons[_NUMBERS.sub("N", row[3])] += 1
        if len(self.examples) < EXAMPLES_KEPT:
            self.examples.append(row)
        if self.used > self.limit:
            counts = "; ".join(f"{reason}: {n:,}" for reason, n in self.reasons.most_common(5))
            raise TooManyQuarantined(
                f"more than {self.limit:,} rows would be quarantined "
                f"({Limits.ENV['quarantined_rows']}={self.limit}); rejected whole after "
                f"{self.used:,} bad rows, by reason: {counts}; the first "
                f"{len(self.examples)} are kept in audit.quarantine",
                self.examples)


def land_csv(
    conn: psycopg.Connection, spec: DatasetSpec, path: Path, partition_key: str = "", **kwargs
) -> BatchOutcome:
    return land_file(conn, spec, path, partition_key, reader=read_csv, **kwargs)


def storable(text: str | None) -> str | None:
    """Text PostgreSQL can store: undecodable bytes and NUL shown as replacement marks."""
    return None if text is None else encoding.shown(text).replace("\x00", "\u2400")


def _copy_part(
    conn: psycopg.Connection, part: Part, batch_id: int, shown: str,
    budget: Budget | None = None,
) -> tuple[int, int]:
    """COPY one part's good records; quarantine the others. Memory stays flat: rejected
    records are spilled to a temporary file and copied after the part's COPY ends. Each
    quarantined row spends the file's ``budget`` (TooManyQuarantined past it)."""
    budget = budget or Budget(limits().quarantined_rows)
    spec = part.spec
    columns = sql.SQL(", ").join(map(sql.Identifier, ["_batch_id", "_row_number", *part.header]))
    received = loaded = 0
    where = f" ({part.name})" if part.name else ""
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spill:
        rejects = csv.writer(spill)

        def reject(record: Record) -> None:
            row = (batch_id, record.number, storable(record.raw),
                   storable(record.problem or "unreadable") + where,
                   storable(record.column), storable(record.value))
            budget.spend(row)
            rejects.writerow(row)

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
