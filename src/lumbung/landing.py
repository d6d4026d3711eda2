"""Landing files into ``raw``: one batch per file, streaming ``COPY``, every row accounted for.

A row is either loaded (into its raw table, as received) or quarantined (into
``audit.quarantine`` with the reason). A file whose shape is wrong as a whole (empty, missing
or unknown columns) is rejected: its batch records why and no row of it is loaded. The same
file content delivered twice for the same dataset and partition is landed once.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

QUARANTINE_FLUSH = 1000


@dataclass(frozen=True)
class DatasetSpec:
    """How one kind of landing file maps onto its raw table."""

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


def _check_header(header: list[str], spec: DatasetSpec) -> list[str]:
    names = [h.strip() for h in header]
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


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the line they start on; undecodable bytes survive as surrogates."""
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh, strict=False)
        line = 1
        for record in reader:
            yield line, record
            line = reader.line_num + 1


def _as_received(record: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(record)
    return buf.getvalue().encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _row_problem(record: list[str], header: list[str]) -> tuple[str, str | None, str | None]:
    if len(record) != len(header):
        return (f"expected {len(header)} fields, found {len(record)}", None, None)
    for name, value in zip(header, record, strict=True):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            return ("not valid UTF-8 text", name, shown)
    return ("", None, None)


def land_csv(
    conn: psycopg.Connection,
    spec: DatasetSpec,
    path: Path,
    partition_key: str = "",
    *,
    display_path: str | None = None,
    dag_id: str | None = None,
    run_id: str | None = None,
) -> BatchOutcome:
    """Land one CSV file as one batch, in one transaction (all or nothing)."""
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
                 file_bytes, dag_id, run_id)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s)
            returning batch_id
            """,
            (spec.source, spec.dataset, partition_key, path.name, shown, content_hash, size,
             dag_id, run_id),
        ).fetchone()[0]
        try:
            with conn.transaction():  # a savepoint: a rejected file leaves no rows behind
                received, loaded, quarantined = _copy_rows(conn, spec, path, batch_id)
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


def _copy_rows(
    conn: psycopg.Connection, spec: DatasetSpec, path: Path, batch_id: int
) -> tuple[int, int, int]:
    records = _records(path)
    first = next(records, None)
    if first is None:
        raise BatchRejected("empty file: no header and no rows")
    header = _check_header(first[1], spec)
    copy_sql = sql.SQL("copy {}.{} ({}) from stdin").format(
        sql.Identifier(spec.schema),
        sql.Identifier(spec.table),
        sql.SQL(", ").join(map(sql.Identifier, ["_batch_id", "_row_number", *header])),
    )
    received = loaded = 0
    rejects: list[tuple] = []
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for line, record in records:
            if not record:  # a blank line is no record
                continue
            received += 1
            reason, column, value = _row_problem(record, header)
            if reason:
                rejects.append((batch_id, line, _as_received(record), reason, column, value))
                continue
            copy.write_row((batch_id, line, *record))
            loaded += 1
    for start in range(0, len(rejects), QUARANTINE_FLUSH):
        with conn.cursor() as cur:
            cur.executemany(
                """
                insert into audit.quarantine
                    (batch_id, row_number, raw_record, reason, column_name, value)
                values (%s, %s, %s, %s, %s, %s)
                """,
                rejects[start : start + QUARANTINE_FLUSH],
            )
    if received == 0:
        raise BatchRejected("no data rows after the header")
    return received, loaded, len(rejects)
