"""The quality gate: validate landed batches, and built marts, with their Great Expectations
checkpoints. The one entry point of ``lumbung.quality`` for the pipelines.

``validate_batch`` moves a batch through ``loaded -> validating -> validated | failed`` in
``audit.load_batches`` (``lumbung.quality.batch_state``). While a batch is 'validating' the
gate views show exactly its rows, so the dataset's checkpoint (one per dataset, in
``expectations/gx``) validates that batch and nothing else. Critical rules decide; warnings
are reported and kept in the data docs but do not fail the batch. Every verdict is stored
with its batch status, in the same transaction: ``audit.dq_runs`` and one ``audit.dq_results``
row per expectation (``lumbung.quality.results``). ``validate_batches`` judges many batches,
thousands per checkpoint run where the dataset's suite allows (``lumbung.quality.many_batches``);
``audit_marts`` is the audit of write-audit-publish (``lumbung.quality.mart_gate``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path

import psycopg

from lumbung.quality.batch_state import (
    Batch,
    claim,
    finish,
    landing_notes,
    load_batch,
    load_batches,
    load_gateable,
    load_gateables,
    lock,
    note_warnings,
    reference_rows,
    release,
    row_count_bounds,
    unclaim,
)
from lumbung.quality.checkpoints import (
    gx_connection_string,
    one_docs_build,
    prepare,
    run_checkpoint,
)
from lumbung.quality.many_batches import counted, split_by_batch, splittable
from lumbung.quality.mart_gate import audit_marts
from lumbung.quality.messages import batch_label, rule_failures
from lumbung.quality.results import batch_view, expectation_outcomes, record_batches
from lumbung.quality.rules import SuiteSpec
from lumbung.quality.suites import suite_for
from lumbung.quality.verdict import GateFailed, GateResult, RuleFailure, raise_for_failures

__all__ = [
    "GateFailed",
    "GateResult",
    "RuleFailure",
    "audit_marts",
    "one_docs_build",
    "raise_for_failures",
    "validate_batch",
    "validate_batches",
]

log = logging.getLogger(__name__)

# Batches of one checkpoint run when many are validated together. A rule reports at most
# 200 failing rows per run (GX's MAX_RESULT_RECORDS) and the batches it leaves unnamed must
# be run again: runs of a bounded size rarely overflow, cost in proportion to their
# batches, and each ends with a line in the log.
TOGETHER = 2000


def _verdict(
    spec: SuiteSpec,
    batch: Batch,
    validation: dict,
    note: str | None,
    *,
    evaluated: int,
    bounds: dict[str, int | None],
    index: str | None,
) -> GateResult:
    """The verdict on one batch from its validation and its landing note."""
    failures, warnings = rule_failures(validation, spec)
    warnings += note_warnings(note)
    return GateResult(
        batch_id=batch.batch_id,
        dataset=batch.dataset,
        file_path=batch.file_path,
        passed=not failures,
        failures=failures,
        warnings=warnings,
        source=batch.source,
        partition_key=batch.partition_key,
        label=batch_label(spec, batch),
        evaluated=evaluated,
        row_bounds=bounds,
        docs_index=index,
        outcomes=expectation_outcomes(validation, failures + warnings),
    )


def _store(conn: psycopg.Connection, spec: SuiteSpec, results: list[GateResult]) -> None:
    """Each verdict with its batch's status and its stored results, all or none."""
    with conn.transaction():
        # A validated batch keeps its warnings as its reason; a clean one has none.
        finish(conn, [(r.batch_id, r.passed, r.message() if r.failures or r.warnings else None)
                      for r in results])
        record_batches(conn, results, spec.name)


def _evaluated(validation: dict) -> int:
    return validation.get("statistics", {}).get("evaluated_expectations", 0)


def validate_batch(
    warehouse_url: str,
    batch_id: int,
    *,
    context_dir: Path | None = None,
    docs_dir: Path | None = None,
) -> GateResult:
    """Validate one landed batch and record the verdict in audit.load_batches.

    ``warehouse_url`` is a libpq URL. Raises LookupError for an unknown batch and ValueError
    for one that cannot be gated ('received' or 'rejected'); if the gate itself breaks, the
    batch goes back to 'loaded' with the error as its reason and the error propagates.
    """
    started = time.monotonic()
    context_dir, docs_dir = prepare(context_dir, docs_dir)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        lock(conn, load_batch(conn, batch_id).source)
        batch = load_gateable(conn, batch_id)
        spec = suite_for(batch.source, batch.dataset)
        claim(conn, batch.source, [batch.batch_id])
        try:
            bounds = row_count_bounds(reference_rows(conn, batch))
            validation, index = run_checkpoint(
                spec,
                gx_connection_string(warehouse_url),
                context_dir,
                docs_dir,
                bounds,
                run_name=f"batch-{batch.batch_id}",
            )
            validation = counted(validation)
            result = _verdict(spec, batch, validation,
                              landing_notes(conn, [batch.batch_id]).get(batch.batch_id),
                              evaluated=_evaluated(validation), bounds=bounds, index=index)
            _store(conn, spec, [result])
        except BaseException as error:
            release(conn, batch.batch_id, error)
            raise
    result.seconds = round(time.monotonic() - started, 3)
    log.info(
        "batch %s %s the gate (%d critical, %d warning) in %.1fs; data docs: %s",
        batch_id,
        "passed" if result.passed else "FAILED",
        len(result.failures),
        len(result.warnings),
        result.seconds,
        result.docs_index,
    )
    return result


def _validate_together(
    warehouse_url: str, spec: SuiteSpec, batch_ids: list[int], context_dir: Path, docs_dir: Path
) -> tuple[list[GateResult], list[int]]:
    """Checkpoint runs of up to ``TOGETHER`` batches each for many batches of one dataset;
    returns their results and the batches it could not judge apart."""
    started = time.monotonic()
    results: list[GateResult] = []
    apart: list[int] = []
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        lock(conn, spec.source)
        batches = load_gateables(conn, batch_ids)
        notes = landing_notes(conn, batches)
        ids = list(batches)
        for first in range(0, len(ids), TOGETHER):
            chunk = {i: batches[i] for i in ids[first:first + TOGETHER]}
            judged, left = _judge_together(conn, warehouse_url, spec, chunk, notes,
                                           context_dir, docs_dir)
            results += judged
            apart += left
            log.info("gate %s: %d of %d batch(es) judged, %d failed, %.0fs so far",
                     spec.name, len(results) + len(apart), len(ids),
                     sum(not r.passed for r in results), time.monotonic() - started)
    return results, apart


def _judge_together(
    conn: psycopg.Connection, warehouse_url: str, spec: SuiteSpec, batches: dict[int, Batch],
    notes: dict[int, str], context_dir: Path, docs_dir: Path,
) -> tuple[list[GateResult], list[int]]:
    """One checkpoint run (more only when a rule names over 200 batches) for these batches;
    their results and the batches it could not judge apart."""
    results: list[GateResult] = []
    claim(conn, spec.source, list(batches))
    # The gate views keep the 'validating' batches: planned with statistics from before the
    # claim (none validating), a rule that aggregates the indicators per batch is run once
    # per batch over all of them.
    conn.execute("analyze audit.load_batches")
    pending = dict(batches)
    bounds = row_count_bounds(None)
    try:
        while pending:
            first, last = min(pending), max(pending)
            log.info("gate %s: checking batches %d-%d (%d)", spec.name, first, last,
                     len(pending))
            validation, index = run_checkpoint(
                spec, gx_connection_string(warehouse_url), context_dir, docs_dir, bounds,
                run_name=f"batches-{first}-{last}-{len(pending)}",
            )
            per_batch, settled = split_by_batch(validation, pending)
            if settled is None:
                unclaim(conn, pending)
                return results, list(pending)
            judged = [
                _verdict(spec, pending[batch_id],
                         batch_view(validation, per_batch[batch_id]["results"]),
                         notes.get(batch_id), evaluated=_evaluated(validation),
                         bounds=bounds, index=index)
                for batch_id in sorted(settled)
            ]
            _store(conn, spec, judged)
            for result in judged:
                del pending[result.batch_id]
            results.extend(judged)
    except BaseException as error:
        for batch_id in pending:
            release(conn, batch_id, error)
        raise
    return results, []


def validate_batches(
    warehouse_url: str,
    batch_ids: Iterable[int],
    *,
    context_dir: Path | None = None,
    docs_dir: Path | None = None,
) -> list[GateResult]:
    """Validate many landed batches, recording each verdict in audit.load_batches; results
    in the order of ``batch_ids``.

    The batches of a dataset whose suite is made of unexpected-rows queries returning
    ``_batch_id`` first are validated together, ``TOGETHER`` at a time: those 'validating' at
    once, one checkpoint run, the failing rows split by ``_batch_id``. (A checkpoint run costs
    about half a second whatever the rows, so this is what makes gating many small files
    practical.) Each run logs how far the gate has got, and each rule what it found and how
    long it took.
    Other suites, a single batch, or a failure that names no batch fall back to
    ``validate_batch`` one batch at a time, so the verdicts are always those it would give.
    """
    started = time.monotonic()
    ids = list(dict.fromkeys(batch_ids))
    if not ids:
        return []
    context_dir, docs_dir = prepare(context_dir, docs_dir)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        batches = load_batches(conn, ids)
    groups: dict[tuple[str, str], list[int]] = {}
    for batch in batches.values():
        groups.setdefault((batch.source, batch.dataset), []).append(batch.batch_id)

    results: dict[int, GateResult] = {}
    with one_docs_build(warehouse_url):
        _validate_groups(warehouse_url, groups, results, context_dir, docs_dir)
    seconds = round(time.monotonic() - started, 3)
    failed = sum(1 for r in results.values() if not r.passed)
    log.info("gate: %d batch(es) validated in %.1fs, %d failed", len(ids), seconds, failed)
    return [results[i] for i in ids]


def _validate_groups(warehouse_url: str, groups: dict[tuple[str, str], list[int]],
                     results: dict[int, GateResult], context_dir: Path, docs_dir: Path) -> None:
    for (source, dataset), members in groups.items():
        spec = suite_for(source, dataset)
        one_by_one = members
        if len(members) > 1 and splittable(spec):
            together, one_by_one = _validate_together(
                warehouse_url, spec, members, context_dir, docs_dir
            )
            results.update((r.batch_id, r) for r in together)
            if one_by_one:
                log.warning("gate: a failure of %s names no batch; validating %d batch(es) "
                            "one at a time", spec.name, len(one_by_one))
        for batch_id in one_by_one:
            results[batch_id] = validate_batch(
                warehouse_url, batch_id, context_dir=context_dir, docs_dir=docs_dir
            )
