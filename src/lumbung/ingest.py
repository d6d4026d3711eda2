"""``lumbung ingest``: land a file or folder of a source, then gate it as its DAG does.

Landing is the source pipeline's ``ingest_path``; the gate is the same pipeline's ``gate``,
the function its DAG's ``quality_gate`` task calls (so accepted batches are released to dbt
exactly as a DAG run releases them, ``lumbung.visibility``). Every batch ends with a verdict
stored in ``audit.load_batches``: none stays ``loaded``.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg

from lumbung.config import PgUrl
from lumbung.landing import BatchOutcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """The end of one batch of an ingest: its landing and its gate, as stored."""

    outcome: BatchOutcome
    status: str  # audit.load_batches.status after the gate
    reason: str | None  # the gate's message (failures, or the warnings of an accepted batch)
    visible: bool  # released to dbt

    @property
    def accepted(self) -> bool:
        return self.status == "validated"

    @property
    def warned(self) -> bool:
        return self.accepted and bool(self.reason)

    def describe(self) -> str:
        o = self.outcome
        if o.status == "rejected" and self.status == "rejected":
            batch = (f"already landed as batch {o.batch_id}," if o.already_landed else
                     f"batch {o.batch_id}")
            return f"{o.file_path}: {batch} REJECTED at landing: {o.reason}"
        landed = (f"already landed as batch {o.batch_id}" if o.already_landed else
                  f"batch {o.batch_id} received {o.rows_received}, loaded {o.rows_loaded}, "
                  f"quarantined {o.rows_quarantined} in {o.seconds:.2f}s"
                  + (f" ({o.notes})" if o.notes else ""))
        if self.status == "failed":
            verdict = f"REJECTED by the gate: {self.reason}"
        elif self.warned:
            verdict = f"accepted with warnings: {self.reason}"
        elif self.accepted:
            verdict = "accepted"
        else:  # the gate could not run (its reason says why), or left it as it was
            verdict = f"NOT GATED ({self.status})" + (f": {self.reason}" if self.reason else "")
        if self.accepted and not self.visible:
            verdict += " (held back: not yet released to dbt)"
        return f"{o.file_path}: {landed}; {verdict}"


@dataclass(frozen=True)
class IngestResult:
    verdicts: list[Verdict]
    released: int | None  # the visibility number these batches were released as
    gate_error: str | None  # the gate itself could not run (not a verdict on the data)

    @property
    def ok(self) -> bool:
        return self.gate_error is None and all(v.accepted for v in self.verdicts)

    def summary(self) -> str:
        v = self.verdicts
        accepted = sum(x.accepted for x in v)
        text = (
            f"{len(v)} batch(es): {accepted} accepted ({sum(x.warned for x in v)} with "
            f"warnings), {sum(x.status == 'rejected' for x in v)} rejected at landing, "
            f"{sum(x.status == 'failed' for x in v)} rejected by the gate"
        )
        if not_gated := sum(x.status not in ("validated", "failed", "rejected") for x in v):
            text += f", {not_gated} not gated"
        new = [x.outcome for x in v if not x.outcome.already_landed]
        text += (f"; {sum(o.rows_loaded or 0 for o in new):,} rows loaded, "
                 f"{sum(o.rows_quarantined or 0 for o in new):,} quarantined")
        if len(new) < len(v):
            text += f" ({len(v) - len(new)} file(s) already landed before)"
        if self.released is not None:
            text += (f"; released to dbt as visibility #{self.released} (staging and the marts "
                     "show it after their next build: lumbung run --dags smart_village_marts)")
        return text


def _pipeline(source: str):
    from lumbung.sources import INGEST

    module, function = INGEST[source].split(":")
    pipeline = importlib.import_module(module)
    return getattr(pipeline, function), pipeline.gate


def ingest(warehouse: PgUrl, source: str, path: Path) -> IngestResult:
    """Land ``path`` (a file or folder of ``source``), gate every batch landed that is not
    accepted yet, and read each batch's verdict back from ``audit.load_batches``."""
    from lumbung.quality.gate import GateFailed

    land, gate = _pipeline(source)
    outcomes: list[BatchOutcome] = land(warehouse, path)
    before = _stored(warehouse, outcomes)
    gate_error = None
    try:
        gate(warehouse, {"batches": [o.to_dict() for o in outcomes], "problems": []})
    except GateFailed:
        pass  # the DAG's task fails here (some gates after releasing); verdicts read below
    except Exception as error:  # the gate broke: its batches went back to 'loaded'
        log.exception("the quality gate could not run")
        gate_error = f"{type(error).__name__}: {error}"
    after = _stored(warehouse, outcomes)
    released = max((seq for b, (*_, seq) in after.items()
                    if seq is not None and before.get(b, (None,))[-1] is None), default=None)
    verdicts = [Verdict(o, *after[o.batch_id][:2], after[o.batch_id][2] is not None)
                if o.batch_id in after else Verdict(o, o.status, o.reason, False)
                for o in outcomes]
    return IngestResult(verdicts, released, gate_error)


def _stored(warehouse: PgUrl, outcomes: list[BatchOutcome]) -> dict[int, tuple]:
    """status, status_reason and visible_seq of the landed batches, by batch id."""
    with psycopg.connect(warehouse.url()) as conn:
        return {
            r[0]: r[1:] for r in conn.execute(
                "select batch_id, status, status_reason, visible_seq "
                "from audit.load_batches where batch_id = any(%s)",
                ([o.batch_id for o in outcomes],),
            )
        }
