"""Steps shared by the pipelines of file sources: land a list of files, gate their batches.

A source module discovers its files (each with its ``DatasetSpec`` and partition key) and
provides a reader; these functions do the rest the same way for every source, so every
source's batches are accounted for and gated alike. ``FilePipeline`` is the whole pipeline
of a source family that needs nothing else (its DAG's tasks and ``lumbung ingest``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import psycopg

from lumbung.config import Paths, PgUrl
from lumbung.families import FAIL_GATE, SourceFamily, family
from lumbung.landing import BatchOutcome, DatasetSpec, Reader, land_file
from lumbung.visibility import release

log = logging.getLogger(__name__)


class SourceFile(Protocol):
    path: Path
    spec: DatasetSpec
    partition_key: str


def shown(path: Path, landing: Path) -> str:
    """The path as operators see it: relative to the landing folder when inside it."""
    try:
        return str(path.relative_to(landing))
    except ValueError:
        return str(path)


def land_all(
    warehouse: PgUrl,
    landing: Path,
    files: Sequence[SourceFile],
    reader: Reader | None,
    dag_id: str | None = None,
    run_id: str | None = None,
    conn: psycopg.Connection | None = None,
) -> list[BatchOutcome]:
    """Land each file as one batch (files already landed are not landed again), read by
    ``reader`` (None: each file's own ``reader``), on ``conn`` or a connection of its own."""
    if conn is None:
        with psycopg.connect(warehouse.url()) as own:
            return land_all(warehouse, landing, files, reader, dag_id, run_id, own)
    outcomes: list[BatchOutcome] = []
    for number, item in enumerate(files, start=1):
        log.info("landing %d/%d: %s", number, len(files), item.path)
        outcomes.append(
            land_file(conn, item.spec, item.path, item.partition_key,
                      reader=reader or item.reader, display_path=shown(item.path, landing),
                      dag_id=dag_id, run_id=run_id)
        )
    return outcomes


@dataclass
class Gated:
    """What the gate task of every file source returns (as a dict, between Airflow tasks):
    the batches it checked, how many failed and the warnings they had, every failure
    (rejected files and batches the gate failed, one message each, in landing order) and
    the visibility number of what it released (None: nothing new)."""

    batches_checked: int = 0
    failed: int = 0
    warnings: int = 0
    failures: list[str] = field(default_factory=list)
    released: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def judge(warehouse: PgUrl, landed: dict, *, together: bool = False) -> Gated:
    """Gate every landed batch not yet accepted, with one data docs build for them all.
    ``together``: many batches of a dataset in one checkpoint run (``validate_batches``),
    pausing once their verdicts are stored, else one batch after another, pausing after
    each (see :func:`pause_point`). Releases nothing."""
    from lumbung.quality.gate import one_docs_build, validate_batch, validate_batches

    landed = batches_of(landed)
    pending: list[int] = []
    for batch in landed["batches"]:
        if batch["status"] == "validated":
            log.info("batch %s already passed the gate", batch["batch_id"])
        elif batch["status"] != "rejected":
            pending.append(batch["batch_id"])
    with one_docs_build(warehouse.url()):
        if together:
            results = validate_batches(warehouse.url(), pending)
            pause_point()
        else:
            results = []
            for batch_id in pending:
                results.append(validate_batch(warehouse.url(), batch_id))
                log.info("gate: %s", results[-1].message())
                pause_point()
    if together:
        for result in results:
            log.info("gate: %s", result.message())
    verdicts = {r.batch_id: r for r in results}
    gated = Gated(batches_checked=len(results), failures=list(landed["problems"]))
    for batch in landed["batches"]:
        result = verdicts.get(batch["batch_id"])
        if batch["status"] == "rejected":
            gated.failures.append(batch["reason"])
        elif result is not None:
            gated.warnings += len(result.warnings)
            if not result.passed:
                gated.failed += 1
                gated.failures.append(result.message())
    return gated


def validate_all(warehouse: PgUrl, landed: dict, *, together: bool = False) -> dict:
    """Validate every landed batch not yet accepted; collect (not raise) every failure:
    rejected files and files the gate failed, after checking all of them. Ends by releasing
    every accepted batch to dbt at once (``lumbung.visibility``). Returns a ``Gated``."""
    gated = judge(warehouse, landed, together=together)
    gated.released = release(warehouse, released_ids(landed))
    return gated.to_dict()


def verdict(gated: dict, consequence: str) -> dict:
    """Raise GateFailed naming every failure of a ``Gated`` (the gate checked them all),
    logging what the failures mean for the run."""
    from lumbung.quality.gate import GateFailed

    if gated["failures"]:
        log.error("%d file(s) not accepted; %s", len(gated["failures"]), consequence)
        raise GateFailed(gated["failures"])
    return gated


def released_ids(landed: dict) -> list[int]:
    """The batches of a landing the gate may release: every one with a batch row (release
    takes the validated ones not yet visible, so a batch accepted by a run that died before
    releasing it is released by the next)."""
    return [b["batch_id"] for b in batches_of(landed)["batches"] if b.get("batch_id") is not None]


def for_xcom(landed: dict) -> dict:
    """A landing result small enough to pass between Airflow tasks whatever the number of
    files: the batch ids of each status as ranges of consecutive ids, the reasons of the
    rejected ones, and the problems. ``batches_of`` turns it back into what the gate reads;
    the full outcomes stay in audit.load_batches."""
    runs: dict[str, list[list[int]]] = {}
    reasons: dict[str, str] = {}
    unnumbered: list[dict] = []
    for batch in sorted(landed["batches"], key=lambda b: b.get("batch_id") or 0):
        batch_id, status = batch.get("batch_id"), batch["status"]
        if batch_id is None:
            unnumbered.append({"batch_id": None, "status": status, "reason": batch.get("reason")})
            continue
        if batch.get("reason") is not None:
            reasons[str(batch_id)] = batch["reason"]
        spans = runs.setdefault(status, [])
        if spans and spans[-1][1] == batch_id - 1:
            spans[-1][1] = batch_id
        else:
            spans.append([batch_id, batch_id])
    return {"files": len(landed["batches"]), "batch_ids": runs, "reasons": reasons,
            "unnumbered": unnumbered, "problems": list(landed["problems"])}


def batches_of(landed: dict) -> dict:
    """A landing result with its ``batches`` listed (batch_id, status, reason), from either
    form: as ``land`` returns it, or compacted by ``for_xcom``."""
    if "batch_ids" not in landed:
        return landed
    batches = [
        {"batch_id": batch_id, "status": status,
         "reason": landed["reasons"].get(str(batch_id))}
        for status, spans in landed["batch_ids"].items()
        for first, last in spans
        for batch_id in range(first, last + 1)
    ]
    batches.sort(key=lambda b: b["batch_id"])
    return {"batches": batches + landed["unnumbered"], "problems": landed["problems"]}


# Names a file: while it exists, a gate stops after each batch it judged (one at a time) or
# after judging them all (together), before releasing anything (the tests hold a gate
# half-way there, to build the marts meanwhile).
PAUSE_ENV = "LUMBUNG_GATE_PAUSE"


def pause_point() -> None:
    """Wait while the file named by ``LUMBUNG_GATE_PAUSE`` exists, after touching
    ``<file>.reached`` so that whoever holds the gate knows it is half-way (tests only)."""
    flag = os.environ.get(PAUSE_ENV)
    if not flag or not Path(flag).exists():
        return
    Path(f"{flag}.reached").touch()
    log.warning("gate paused half-way while %s exists", flag)
    while Path(flag).exists():
        time.sleep(0.1)


def gate_all(warehouse: PgUrl, landed: dict, what: str, *, together: bool = True) -> dict:
    """Validate every landed batch not yet accepted (by default each dataset's batches in
    one checkpoint run where its suite allows, see ``validate_batches``); raise GateFailed
    naming every failure (rejected files and files the gate failed), after checking all of
    them."""
    gated = validate_all(warehouse, landed, together=together)
    return verdict(gated, f"{what} not published; staging keeps the batches validated before")


def counts(warehouse: PgUrl, tables: Sequence[str]) -> dict[str, int]:
    from lumbung.db import count_rows

    with psycopg.connect(warehouse.url()) as conn:
        return {table: count_rows(conn, table) for table in tables}


def land_folder(land: Callable[[PgUrl, Path], dict], warehouse: PgUrl, path: Path,
                folder: str) -> list[BatchOutcome]:
    """``lumbung ingest`` of a folder: a landing folder, or a family's ``folder`` in one."""
    root = path.parent if path.name == folder else path
    return [BatchOutcome(**b) for b in land(warehouse, root)["batches"]]


def log_problems(problems: Sequence[str]) -> None:
    for problem in problems:
        log.error("not landed: %s", problem)


@dataclass(frozen=True)
class FilePipeline:
    """The pipeline of a source family from its declaration and its source module
    (``discover(landing)``, ``landing_file(path)``, ``read``). Each method is safe to run
    again: files already landed are not landed twice, accepted batches are not validated
    again, and dbt reads accepted batches only."""

    family: SourceFamily
    source: ModuleType

    @classmethod
    def of(cls, name: str) -> FilePipeline:
        source = family(name)
        return cls(source, import_module(source.reader_module))

    def tasks(self) -> tuple[Callable[..., Any], ...]:
        """land, ingest_path, gate, transform and published_counts: what a pipeline module
        offers its DAG's tasks and ``lumbung ingest``."""
        return self.land, self.ingest_path, self.gate, self.transform, self.published_counts

    def land(self, warehouse: PgUrl, landing: Path, dag_id: str | None = None,
             run_id: str | None = None) -> dict:
        """Land every file under ``<landing>/<folder>``; one batch per file."""
        files, problems = self.source.discover(landing)
        log_problems(problems)
        if not files:
            log.warning("%s: no %s files to land", landing / self.family.folder,
                        self.family.title)
        outcomes = land_all(warehouse, landing, files, self.source.read, dag_id, run_id)
        return {"batches": [o.to_dict() for o in outcomes], "problems": problems}

    def ingest_path(self, warehouse: PgUrl, path: Path) -> list[BatchOutcome]:
        """Land one file (inside its partition folders) or a landing folder."""
        if path.is_dir():
            return land_folder(self.land, warehouse, path, self.family.folder)
        item = self.source.landing_file(path)
        landing = path.parents[self.family.ingest_depth]
        return land_all(warehouse, landing, [item], self.source.read)

    def gate(self, warehouse: PgUrl, landed: dict) -> dict:
        """Validate every landed batch not yet accepted, each dataset's batches in one
        checkpoint run where its suite allows, and release the accepted ones; with the
        ``FAIL_GATE`` policy raise GateFailed naming every failure, else return them for the
        DAG's verdict task."""
        if self.family.gate_failure == FAIL_GATE:
            return gate_all(warehouse, landed, self.family.title)
        return validate_all(warehouse, landed, together=True)

    def transform(self, paths: Paths, warehouse: PgUrl) -> None:
        """Build the family's staging models with their tests and all they read: this
        source's staging alone (tests, maintenance); in production the marts DAG builds
        it with what it feeds."""
        from lumbung.dbt_runner import run_dbt

        select = [f"+{relation.split('.')[-1]}" for relation in self.family.published]
        run_dbt(paths, warehouse, "build", "--select", *select)

    def published_counts(self, warehouse: PgUrl) -> dict[str, int]:
        """Rows of the relations the family's batches feed first, for the run log."""
        return counts(warehouse, self.family.published)
