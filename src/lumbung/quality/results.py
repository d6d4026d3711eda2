"""Quality results, stored: every validation in ``audit.dq_runs``, every expectation of it in
``audit.dq_results`` (passed ones too, with what was observed), so that quality can be
followed over time per source and regency (``marts.mart_data_quality``) and reported to
auditors, instead of living only in task logs.

``record`` is the one writer, for the gate's batches (layer 'batch') and for suites run on
built marts (layer 'mart'); ``record_batches`` fills in what landed batches already know
(partition, regency, the DAG run that landed it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg
from psycopg import sql

from lumbung.families import BY_NAME, Regency
from lumbung.quality.rules import CRITICAL, WARNING

BATCH = "batch"
MART = "mart"
MAX_OBSERVED = 500  # characters of an observed value kept (a value list can be long)


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation as evaluated on one batch or mart, passed or not."""

    rule: str
    expectation: str
    column: str | None
    severity: str
    success: bool
    unexpected_count: int | None = None
    observed_value: str | None = None
    examples: list[str] = field(default_factory=list)
    detail: str = ""


class Finding(Protocol):
    """A broken rule as the gate reports it (``verdict.RuleFailure``)."""

    rule: str
    expectation: str
    column: str | None
    severity: str
    unexpected_count: int | None
    examples: list[str]
    detail: str


class Verdict(Protocol):
    """What ``record`` needs of a validation (``verdict.GateResult`` is one)."""

    passed: bool
    failures: Sequence[Finding]
    warnings: Sequence[Finding]
    evaluated: int
    docs_index: str | None

    def message(self) -> str: ...


# --- outcomes from a GX validation result --------------------------------------------------


def _observed(kind: str, result: dict) -> str | None:
    """What the expectation saw, as text: the observed value when GX gives one (row counts,
    unexpected-rows counts), else how many values were unexpected out of how many."""
    if result.get("observed_value") is not None:
        return str(result["observed_value"])[:MAX_OBSERVED]
    if result.get("element_count") is not None:
        unexpected = result.get("unexpected_count") or 0
        return f"{unexpected} of {result['element_count']} value(s) unexpected"
    return None


def _count(kind: str, result: dict) -> int | None:
    if kind == "unexpected_rows_expectation":
        value = result.get("observed_value")
        return int(value) if isinstance(value, int) else None
    value = result.get("unexpected_count")
    return int(value) if isinstance(value, int) else None


def expectation_outcomes(validation: dict, broken: Sequence[Finding]) -> list[ExpectationOutcome]:
    """Every expectation of a suite validation result (its JSON dict form), in suite order;
    a failed one carries the gate's examples and sentence (``broken``: its findings)."""
    found = {f.rule: f for f in broken}
    outcomes = []
    for item in validation.get("results", []):
        config = item.get("expectation_config") or {}
        kind = config.get("type", "")
        kwargs = config.get("kwargs") or {}
        meta = config.get("meta") or {}
        rule = meta.get("rule") or kind
        severity = meta.get("severity") or str(config.get("severity") or CRITICAL)
        result = item.get("result") or {}
        finding = None if item.get("success") else found.get(rule)
        exception = item.get("exception_info") or {}
        observed = _observed(kind, result)
        if exception.get("raised_exception"):
            observed = f"error: {exception.get('exception_message') or 'unknown'}"[:MAX_OBSERVED]
        outcomes.append(
            ExpectationOutcome(
                rule=rule,
                expectation=kind,
                column=kwargs.get("column") or meta.get("column"),
                severity=severity if severity in (CRITICAL, WARNING) else WARNING,
                success=bool(item.get("success")),
                unexpected_count=(
                    finding.unexpected_count if finding is not None else _count(kind, result)
                ),
                observed_value=observed,
                examples=list(finding.examples) if finding is not None else [],
                detail=finding.detail if finding is not None else "",
            )
        )
    return outcomes


def batch_view(validation: dict, failed_items: Sequence[dict]) -> dict:
    """One batch's view of a validation run over many batches (unexpected-rows rules only):
    its own failing items where it has some, every other expectation passed with 0 rows."""
    own = {
        ((i.get("expectation_config") or {}).get("meta") or {}).get("rule"): i
        for i in failed_items
    }
    results = []
    for item in validation.get("results", []):
        rule = ((item.get("expectation_config") or {}).get("meta") or {}).get("rule")
        if rule in own:
            results.append(own[rule])
        else:
            results.append({**item, "success": True,
                            "result": {"observed_value": 0, "details": {"unexpected_rows": []}}})
    return {**validation, "results": results}


# --- the regency of a batch ----------------------------------------------------------------

_FOUR_DIGITS = re.compile(r"^\d{4}$")


def _regency(source: str) -> Regency:
    """How a batch of ``source`` (audit.load_batches.source) names its regency: declared by
    its family (``lumbung.families``); for sources delivered per regency, in their partition
    key; for those whose files are often one regency's though their partition does not say
    so, the one regency all rows' codes share, if they share one."""
    found = BY_NAME.get(source)
    return found.regency if found is not None else Regency()


def partition_regency(source: str, partition_key: str) -> str | None:
    """The 4-digit regency code a partition key names (APBDes, IDM), else None."""
    return _regency(source).of_partition(partition_key)


def batch_regency(
    conn: psycopg.Connection, source: str, dataset: str, partition_key: str, batch_id: int
) -> str | None:
    """The regency a batch is one regency's delivery of: from its partition key, or from its
    rows' village/district codes when they all lie in one regency; None if neither."""
    code = partition_regency(source, partition_key)
    columns = _regency(source).row_columns(dataset)
    if code or not columns:
        return code
    parts = [
        sql.SQL(
            "select left(regexp_replace({col}, '[^0-9]', '', 'g'), 4) as regency "
            "from {table} where _batch_id = %(batch)s"
        ).format(col=sql.Identifier(column), table=sql.Identifier("raw", table))
        for table, column in columns
    ]
    query = sql.SQL("select array_agg(distinct regency) from ({}) as r").format(
        sql.SQL(" union all ").join(parts)
    )
    try:
        with conn.transaction():
            (codes,) = conn.execute(query, {"batch": batch_id}).fetchone()
    except psycopg.errors.UndefinedTable:  # a source's raw tables not bootstrapped
        return None
    codes = codes or []
    return codes[0] if len(codes) == 1 and _FOUR_DIGITS.match(codes[0] or "") else None


# --- writing -------------------------------------------------------------------------------


def _outcomes_of(result: Verdict) -> list[ExpectationOutcome]:
    """All expectations when the verdict carries them; else its findings only."""
    outcomes = getattr(result, "outcomes", None)
    if outcomes:
        return list(outcomes)
    return [
        ExpectationOutcome(f.rule, f.expectation, f.column, f.severity, False,
                           f.unexpected_count, None, list(f.examples), f.detail)
        for f in [*result.failures, *result.warnings]
    ]


_RUN_COLUMNS = (
    "dq_run_id", "layer", "source", "dataset", "suite", "batch_id", "partition_key",
    "regency_code", "dag_id", "run_id", "passed", "expectations_evaluated",
    "critical_failures", "warnings", "message", "docs_url",
)
_RESULT_COLUMNS = (
    "dq_run_id", "rule", "expectation", "column_name", "severity", "success",
    "unexpected_count", "observed_value", "examples", "detail",
)


def _copy(table: str, columns: tuple[str, ...]) -> sql.Composed:
    return sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier(*table.split(".")), sql.SQL(", ").join(map(sql.Identifier, columns)))


def _insert(conn: psycopg.Connection, runs: list[tuple[Verdict, tuple]]) -> list[int]:
    """Insert validations (each a verdict with its ``audit.dq_runs`` columns from layer to
    run_id) and their expectations, in one transaction; their ids. The ids are drawn first
    so that runs and results each go in with one COPY, whatever their number."""
    if not runs:
        return []
    outcomes = [_outcomes_of(result) for result, _ in runs]
    with conn.transaction(), conn.cursor() as cur:
        ids = [row[0] for row in cur.execute(
            "select nextval(pg_get_serial_sequence('audit.dq_runs', 'dq_run_id')) "
            "from generate_series(1, %s)", (len(runs),))]
        with cur.copy(_copy("audit.dq_runs", _RUN_COLUMNS)) as copy:
            for dq_run_id, (result, columns), expected in zip(ids, runs, outcomes, strict=True):
                copy.write_row((dq_run_id, *columns, result.passed,
                                max(result.evaluated or 0, len(expected)),
                                len(result.failures), len(result.warnings), result.message(),
                                result.docs_index))
        with cur.copy(_copy("audit.dq_results", _RESULT_COLUMNS)) as copy:
            for dq_run_id, expected in zip(ids, outcomes, strict=True):
                seen: set[str] = set()
                for o in expected:
                    if o.rule in seen:  # one result per rule of a run: the first
                        continue
                    seen.add(o.rule)
                    copy.write_row((dq_run_id, o.rule, o.expectation, o.column, o.severity,
                                    o.success, o.unexpected_count, o.observed_value,
                                    json.dumps(o.examples), o.detail or None))
    return ids


def record(
    conn: psycopg.Connection,
    result: Verdict,
    *,
    layer: str,
    source: str,
    dataset: str,
    suite: str,
    batch_id: int | None = None,
    partition_key: str | None = None,
    regency_code: str | None = None,
    dag_id: str | None = None,
    run_id: str | None = None,
) -> int:
    """Store one validation (``audit.dq_runs``) and each of its expectations
    (``audit.dq_results``) in one transaction; returns the dq_run_id.

    ``result`` is a ``GateResult`` or anything with ``passed``, ``failures``, ``warnings``
    (findings with rule, expectation, column, severity, unexpected_count, examples, detail),
    ``evaluated``, ``docs_index`` and ``message()``; its ``outcomes`` (every expectation,
    passed ones too), when present, are stored in full.
    """
    if layer not in (BATCH, MART):
        raise ValueError(f"layer is 'batch' or 'mart', not {layer!r}")
    (dq_run_id,) = _insert(conn, [(result, (layer, source, dataset, suite, batch_id,
                                           partition_key, regency_code, dag_id, run_id))])
    return dq_run_id


def record_batches(conn: psycopg.Connection, results: Sequence[Any], suite: str) -> list[int]:
    """``record`` gate verdicts on landed batches (each result's ``batch_id``), all in one
    transaction: partition, regency and the DAG run that landed each are taken from
    ``audit.load_batches``. Returns their dq_run_ids."""
    ids = [result.batch_id for result in results]
    known = {
        row[0]: row[1:]
        for row in conn.execute(
            "select batch_id, source, dataset, partition_key, dag_id, run_id "
            "from audit.load_batches where batch_id = any(%s)",
            (ids,),
        )
    }
    missing = [i for i in ids if i not in known]
    if missing:
        raise LookupError(f"no batch {missing[0]} in audit.load_batches")
    runs = []
    for result in results:
        source, dataset, partition_key, dag_id, run_id = known[result.batch_id]
        regency = batch_regency(conn, source, dataset, partition_key, result.batch_id)
        runs.append((result, (BATCH, source, dataset, suite, result.batch_id, partition_key,
                              regency, dag_id, run_id)))
    return _insert(conn, runs)
