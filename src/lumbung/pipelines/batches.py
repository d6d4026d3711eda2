"""Steps shared by the pipelines of file sources: land a list of files, gate their batches.

A source module discovers its files (each with its ``DatasetSpec`` and partition key) and
provides a reader; these functions do the rest the same way for every source, so every
source's batches are accounted for and gated alike.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import psycopg

from lumbung.config import PgUrl
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
    reader: Reader,
    dag_id: str | None = None,
    run_id: str | None = None,
) -> list[BatchOutcome]:
    """Land each file as one batch (files already landed are not landed again)."""
    outcomes: list[BatchOutcome] = []
    with psycopg.connect(warehouse.url()) as conn:
        for number, item in enumerate(files, start=1):
            log.info("landing %d/%d: %s", number, len(files), item.path)
            outcomes.append(
                land_file(conn, item.spec, item.path, item.partition_key, reader=reader,
                          display_path=shown(item.path, landing), dag_id=dag_id,
                          run_id=run_id)
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
    else one batch after another (pausing after each, see :func:`pause_point`). Releases
    nothing."""
    from lumbung.quality.gate import one_docs_build, validate_batch, validate_batches

    pending: list[int] = []
    for batch in landed["batches"]:
        if batch["status"] == "validated":
            log.info("batch %s already passed the gate", batch["batch_id"])
        elif batch["status"] != "rejected":
            pending.append(batch["batch_id"])
    with one_docs_build(warehouse.url()):
        if together:
            results = validate_batches(warehouse.url(), pending)
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
    return [b["batch_id"] for b in landed["batches"] if b.get("batch_id") is not None]


# Names a file: while it exists, a gate stops after each batch it judged, before releasing
# anything (the tests hold a gate half-way there, to build the marts meanwhile).
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


def gate_all(warehouse: PgUrl, landed: dict, what: str) -> dict:
    """Validate every landed batch not yet accepted; raise GateFailed naming every failure
    (rejected files and files the gate failed), after checking all of them."""
    gated = validate_all(warehouse, landed)
    return verdict(gated, f"{what} not published; staging keeps the batches validated before")


def counts(warehouse: PgUrl, tables: Sequence[str]) -> dict[str, int]:
    from lumbung.db import count_rows

    with psycopg.connect(warehouse.url()) as conn:
        return {table: count_rows(conn, table) for table in tables}
