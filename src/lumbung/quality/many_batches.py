"""Judging many batches of one dataset in one checkpoint run: the suite's rules return the
failing rows of every batch under validation, each naming its batch in ``_batch_id`` first,
and the one validation is split into a view per batch."""

from __future__ import annotations

from collections.abc import Iterable

from lumbung.quality.messages import severity
from lumbung.quality.rules import BATCH_COLUMN, BATCH_COUNT, CRITICAL, SuiteSpec


def splittable(spec: SuiteSpec) -> bool:
    """Whether a run over many batches can be split into per-batch verdicts: every rule is
    an unexpected-rows query (column and row-count rules only see the whole table)."""
    return all(rule.expectation == "UnexpectedRowsExpectation" for rule in spec.rules)


def _count(rows: list[dict]) -> int:
    """The rows of one batch breaking a rule: as its rows say when the rule counts them
    (``rules.no_rows_by_batch`` and the column variants return a few rows per batch), else
    as many as were returned."""
    counted = rows[0].get(BATCH_COUNT) if rows else None
    return len(rows) if counted is None else int(counted)


def counted(validation: dict) -> dict:
    """A validation of one batch with each failed unexpected-rows result's observed value
    the batch's count of rows breaking the rule (``_count``), as a split gives it."""
    results = []
    for item in validation.get("results", []):
        result = item.get("result") or {}
        rows = (result.get("details") or {}).get("unexpected_rows")
        if not item.get("success") and rows and rows[0].get(BATCH_COUNT) is not None:
            item = {**item, "result": {**result, "observed_value": _count(rows)}}
        results.append(item)
    return {**validation, "results": results}


def split_by_batch(
    validation: dict, pending: Iterable[int]
) -> tuple[dict[int, dict], set[int] | None]:
    """Per-batch views of one validation over many batches, and the batches whose verdict
    they settle (None: a failure names no batch, so none can be settled here).

    A query returns at most 200 rows (GX's MAX_RESULT_RECORDS); when a rule has more, only
    the batches named are settled: those failing a critical rule if a critical rule
    overflowed, else every batch named by a failing rule (the others may have more warnings).
    """
    per_batch: dict[int, dict] = {batch_id: {"results": []} for batch_id in pending}
    named_critical: set[int] = set()
    named: set[int] = set()
    overflow: set[str] = set()
    for item in validation.get("results", []):
        if item.get("success"):
            continue
        result = item.get("result") or {}
        rows = (result.get("details") or {}).get("unexpected_rows")
        kind = (item.get("expectation_config") or {}).get("type")
        raised = (item.get("exception_info") or {}).get("raised_exception")
        if raised or kind != "unexpected_rows_expectation" or not rows or any(
            BATCH_COLUMN not in row for row in rows
        ):
            return per_batch, None
        by_batch: dict[int, list[dict]] = {}
        for row in rows:
            shown = {k: v for k, v in row.items() if k != BATCH_COLUMN}
            by_batch.setdefault(int(row[BATCH_COLUMN]), []).append(shown)
        for batch_id, batch_rows in by_batch.items():
            if batch_id not in per_batch:
                continue
            per_batch[batch_id]["results"].append(
                {**item, "result": {"observed_value": _count(batch_rows),
                                    "details": {"unexpected_rows": batch_rows}}}
            )
            named.add(batch_id)
            if severity(item) == CRITICAL:
                named_critical.add(batch_id)
        if (result.get("observed_value") or 0) > len(rows):
            overflow.add(severity(item))
    if not overflow:
        return per_batch, set(per_batch)
    settled = named_critical if CRITICAL in overflow else named
    return per_batch, (settled or None)

