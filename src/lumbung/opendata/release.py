"""Open data release of a publication: every published mart as CSV and Parquet, with a
Frictionless Data Package, a DCAT-AP catalog and BPS-style metadata (MS-Ind, MS-Var).

A release is written into ``<state>/releases/<publication id>/`` from one consistent
snapshot of ``marts`` (repeatable-read transactions sharing one snapshot, two marts at a
time): into a temporary folder first, renamed into place when complete, then ``latest`` is
switched to it, so a reader never sees half a release. Each mart is streamed with ``COPY
... TO STDOUT`` into its CSV file, and each block of records parsed for its Parquet file as
it comes (a row group per 8 MB of CSV): memory stays bounded whatever the mart's size.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import msgspec
import psycopg
from psycopg import sql

from lumbung.config import Paths, PgUrl
from lumbung.opendata import bps, catalog, datapackage
from lumbung.opendata.metadata import (
    REGION_KEYS,
    Dataset,
    attributions,
    datasets,
    undocumented_columns,
)
from lumbung.publish import PUBLISHED_SCHEMA
from lumbung.roundtrip import Statements

log = logging.getLogger(__name__)

LATEST = "latest"
MANIFEST = "release.json"
WRITE_BYTES = 1 << 20
STREAMS = 2  # marts written at once, each on its own connection


class ReleaseRefused(RuntimeError):
    """The release cannot be written as asked (nothing published, an old publication,
    undocumented columns)."""


@dataclass(frozen=True)
class MartFile:
    """One mart's files in a release."""

    mart: str
    rows: int
    csv: str
    csv_bytes: int
    csv_sha256: str
    parquet: str
    years: tuple[int, int] | None  # first and last year held, for yearly marts
    regions: tuple[str, ...]  # Kemendagri codes of the regencies (or province) it covers


@dataclass(frozen=True)
class Release:
    publication_id: int
    published_at: datetime
    folder: Path
    files: tuple[MartFile, ...]

    @property
    def rows(self) -> dict[str, int]:
        return {f.mart: f.rows for f in self.files}

    def describe(self) -> str:
        return (f"Open data release #{self.publication_id}: {self.folder} "
                f"({len(self.files)} marts, {sum(self.rows.values()):,} rows)")


def releases_dir(paths: Paths) -> Path:
    return paths.state / "releases"


def _select_list(dataset: Dataset) -> sql.Composable:
    """Each column as the release writes it: arrays and JSON as JSON text, booleans as
    true/false (what Table Schema reads); dates and timestamps as PostgreSQL writes them in
    the ISO date style, in UTC (``2024-01-31 08:00:00+00``)."""
    items = []
    for column in dataset.columns:
        ident = sql.Identifier(column.name)
        if column.is_array or column.base_type in ("json", "jsonb"):
            items.append(sql.SQL("to_json({}) #>> '{{}}' as {}").format(ident, ident))
        elif column.base_type == "boolean":
            items.append(sql.SQL("{}::text as {}").format(ident, ident))
        else:
            items.append(ident)
    return sql.SQL(", ").join(items)


def copy_query(dataset: Dataset) -> sql.Composable:
    # no "order by": sorting would hold the whole mart before the first row leaves
    return sql.SQL("copy (select {} from {}) to stdout with (format csv, header)").format(
        _select_list(dataset), sql.Identifier(PUBLISHED_SCHEMA, dataset.name))


def _write_mart(conn: psycopg.Connection, dataset: Dataset, folder: Path,
                parquet: ThreadPoolExecutor, before: Future | None) -> Future[MartFile]:
    """Stream the mart into its CSV file and, block by block, its Parquet file; the last
    block's conversion ends in ``parquet`` (one worker: in order) while the next mart
    streams in, once the mart ``before`` it has ended (one last block held at a time)."""
    from lumbung.opendata.parquet import ParquetSink

    csv_name, parquet_name = f"{dataset.name}.csv", f"{dataset.name}.parquet"
    sink = ParquetSink(dataset, folder / parquet_name, *_coverage_columns(dataset))
    digest, size, pending, last = hashlib.sha256(), 0, None, b""
    # COPY's rows taken from libpq in blocks of WRITE_BYTES or more (psycopg's Copy costs a
    # generator per row): written, hashed and converted; the Parquet conversion of a block
    # runs in a thread (pyarrow works outside the GIL) while the next one streams in, one
    # block in flight at a time
    sent = Statements(conn, [(copy_query(dataset), None)], end=False)
    sent.start_blocking()
    with open(folder / csv_name, "wb") as out:
        for number, block in enumerate(sent.blocks_blocking(WRITE_BYTES)):
            digest.update(block)
            out.write(block)
            size += len(block)
            if number == 0:  # the header, first, is not a row
                block = block[block.index(b"\n") + 1:]
            if last:
                if pending is not None:
                    pending.result()
                pending = parquet.submit(sink.write, last)
            last = block
        rows = sent.copied

    def finish() -> MartFile:
        if last:
            sink.write(last)
        years, regions = sink.close()
        log.info("released %s: %d rows", dataset.name, rows)
        return MartFile(dataset.name, rows, csv_name, size, digest.hexdigest(), parquet_name,
                        years, regions)

    if before is not None:
        before.result()
    return parquet.submit(finish)


def _coverage_columns(dataset: Dataset) -> tuple[str | None, str | None]:
    """The year column, and the finest region code column (REGION_KEYS runs from village
    to province): the first four digits of its codes name the regency."""
    codes = [c for c in REGION_KEYS
             if c in dataset.region_columns and dataset.column(c).base_type == "text"]
    year = dataset.year_column
    if year and dataset.column(year).frictionless_type != "integer":
        year = None
    return year, (codes[0] if codes else None)


def _replace_dir(staged: Path, final: Path) -> None:
    """Move ``staged`` to ``final``, replacing an older copy without a moment where
    ``final`` holds a half-written release."""
    if final.exists():
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        final.rename(old)
        staged.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staged.rename(final)


def _point_latest(root: Path, publication_id: int) -> None:
    """``latest`` -> the newest release, switched atomically (rename of a new symlink)."""
    link = root / LATEST
    if link.is_symlink() or link.exists():
        try:
            current = int(os.readlink(link)) if link.is_symlink() else None
        except ValueError:
            current = None
        if current is not None and current > publication_id:
            return  # rewriting an older release does not move latest back
    tmp = root / f".{LATEST}-{uuid.uuid4().hex[:8]}"
    tmp.symlink_to(str(publication_id), target_is_directory=True)
    if link.exists() and not link.is_symlink():
        shutil.rmtree(link)
    os.replace(tmp, link)


def write_release(paths: Paths, warehouse: PgUrl, publication_id: int | None = None,
                  out: Path | None = None) -> Release:
    """Write the release of the latest publication (``publication_id``: refuse unless it is
    the one ``marts`` holds) into ``releases/<id>/`` and point ``latest`` at it; with
    ``out``, into that folder instead (no ``latest``)."""
    if out is not None and out.exists() and any(out.iterdir()) \
            and not (out / MANIFEST).exists():
        raise ReleaseRefused(f"{out} is not empty and holds no release: it would be replaced "
                             "whole; choose a new or empty folder")
    root = releases_dir(paths)
    root.mkdir(parents=True, exist_ok=True)
    # one writer at a time: two publications in a row must not rename into the same folder
    with open(root / ".lock", "w") as lock, _gc_paused():
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _write(paths, warehouse, root, publication_id, out)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cycle collector off while the release is written (then as it was). What the
    release makes is acyclic and freed as it goes, but its allocations (a tuple per row
    read from libpq) set off collections that walk every object of the process, which in a
    process that has loaded the pipeline's libraries costs tens of milliseconds."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _write(paths: Paths, warehouse: PgUrl, root: Path, publication_id: int | None,
           out: Path | None) -> Release:
    staged = (out.parent if out else root) / f".tmp-release-{uuid.uuid4().hex[:8]}"
    staged.mkdir(parents=True)
    try:
        with _opening(warehouse, STREAMS - 1) as opening, \
                psycopg.connect(warehouse.url()) as conn:
            _begin(conn)
            latest = conn.execute(
                "select publication_id, published_at from audit.publications "
                "order by publication_id desc limit 1").fetchone()
            if latest is None:
                raise ReleaseRefused("nothing has been published yet: no release to write")
            if publication_id is not None and publication_id != latest[0]:
                raise ReleaseRefused(
                    f"marts hold publication {latest[0]}, not {publication_id}: only the "
                    "latest publication can be released (earlier releases stay in "
                    f"{root} as they were written)")
            publication_id, published_at = latest
            described = datasets(conn, paths)
            missing = undocumented_columns(described)
            if missing:
                raise ReleaseRefused(
                    "these published columns have no description (add one to the dbt model's "
                    f"yml; nothing undocumented is released): {', '.join(missing)}")
            files = _write_marts(conn, [other.result() for other in opening], described,
                                 staged)
        final = out or root / str(publication_id)
        release = Release(publication_id, published_at, final, tuple(files))
        _write_metadata(paths, release, described, staged)
        _replace_dir(staged, final)
        if out is None:
            _point_latest(root, publication_id)
        return release
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def _begin(conn: psycopg.Connection, snapshot: str | None = None) -> None:
    """A repeatable-read, read-only transaction on ``conn`` (in ``snapshot``, exported by
    another), writing times in UTC and ISO form."""
    conn.execute("set transaction isolation level repeatable read, read only")
    if snapshot is not None:
        conn.execute(sql.SQL("set transaction snapshot {}").format(sql.Literal(snapshot)))
    conn.execute("set timezone to 'UTC'")
    conn.execute("set datestyle to 'ISO, YMD'")


@contextlib.contextmanager
def _opening(warehouse: PgUrl, count: int) -> Iterator[list[Future[psycopg.Connection]]]:
    """``count`` connections opened in the background (each costs milliseconds of
    authentication, spent while the first reads the catalog); every one that opened is
    closed on exit."""
    with ThreadPoolExecutor(max_workers=max(count, 1)) as opener:
        opening = [opener.submit(psycopg.connect, warehouse.url()) for _ in range(count)]
        try:
            yield opening
        finally:
            for other in opening:
                if other.exception() is None:
                    other.result().close()


def _write_marts(conn: psycopg.Connection, others: list[psycopg.Connection],
                 described: list[Dataset], folder: Path) -> list[MartFile]:
    """Every mart's files, one stream per connection (as ``pg_dump --jobs``): ``conn`` and
    ``others``, which join the snapshot of ``conn``'s transaction, so the release is still
    one consistent view of ``marts``. Each stream has its own Parquet worker."""
    snapshot = conn.execute("select pg_export_snapshot()").fetchone()[0]
    todo, lock = list(enumerate(described)), threading.Lock()
    files: list[MartFile | None] = [None] * len(described)

    def stream(connection: psycopg.Connection) -> None:
        written, before = [], None
        with ThreadPoolExecutor(max_workers=1) as parquet:
            try:
                while True:
                    with lock:
                        if not todo:
                            break
                        index, dataset = todo.pop(0)
                    before = _write_mart(connection, dataset, folder, parquet, before)
                    written.append((index, before))
            except BaseException:
                with lock:
                    todo.clear()  # the other streams stop too
                raise
            for index, mart in written:
                files[index] = mart.result()

    connections = [conn, *others[:max(len(described) - 1, 0)]]
    for other in connections[1:]:
        _begin(other, snapshot)
    with ThreadPoolExecutor(max_workers=len(connections)) as streams:
        for done in [streams.submit(stream, c) for c in connections]:
            done.result()
    return files


def _write_metadata(paths: Paths, release: Release, described: list[Dataset],
                    folder: Path) -> None:
    by_name = {f.mart: f for f in release.files}
    documents = {
        "datapackage.json": datapackage.descriptor(paths, release, described),
        "catalog.jsonld": catalog.catalog(paths, release, described),
        "bps_metadata.json": bps.metadata(paths, described),
        MANIFEST: {
            "publication_id": release.publication_id,
            "published_at": release.published_at.isoformat(),
            "marts": {name: {"rows": f.rows, "csv": f.csv, "parquet": f.parquet,
                             "sha256": f.csv_sha256} for name, f in by_name.items()},
        },
    }
    for name, document in documents.items():
        # as json.dumps(indent=2, ensure_ascii=False) writes it, without its pure-Python
        # indenting encoder
        (folder / name).write_bytes(
            msgspec.json.format(msgspec.json.encode(document), indent=2) + b"\n")
    # the attributions travel with the data (datapackage.json's sources point at them)
    (folder / "sources").mkdir()
    for attribution in attributions(paths):
        shutil.copyfile(paths.root / attribution.path, folder / attribution.release_path)
    (folder / "metadata.html").write_text(
        bps.html(documents["bps_metadata.json"], release), encoding="utf-8")
