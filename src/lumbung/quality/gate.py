"""The quality gate: validate one landed batch with its Great Expectations checkpoint.

``validate_batch`` moves a batch through ``loaded -> validating -> validated | failed`` in
``audit.load_batches``. While a batch is 'validating' the gate views show exactly its rows,
so the dataset's checkpoint (one per dataset, in ``expectations/gx``) validates that batch
and nothing else. A session advisory lock lets one gate run at a time, which is what makes
"one batch 'validating' per dataset" hold; a batch left 'validating' by a run that died is
therefore stale and is put back to 'loaded' before the next claim. Critical rules decide;
warnings are reported and kept in the data docs but do not fail the batch. Every verdict is
stored with its batch status, in the same transaction: ``audit.dq_runs`` and one
``audit.dq_results`` row per expectation (``lumbung.quality.results``).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from lumbung.config import Paths, PgUrl
from lumbung.quality.results import (
    ExpectationOutcome,
    batch_view,
    expectation_outcomes,
    partition_regency,
    record_batch,
)
from lumbung.quality.suites import (
    CONNECTION_VARIABLE,
    CRITICAL,
    DATASOURCE,
    DOCS_SITE,
    DOCS_VARIABLE,
    MAX_ROWS,
    MIN_ROWS,
    ROW_NUMBER,
    SuiteSpec,
    suite_for,
)
from lumbung.sources import kemendagri

log = logging.getLogger(__name__)

GATE_LOCK = "lumbung.quality.gate"  # advisory lock key (hashed by Postgres)
LOCK_TIMEOUT = "15min"  # how long a gate run waits for another to finish
MAX_EXAMPLES = 5
GATEABLE = ("loaded", "validating", "validated", "failed")


@dataclass
class RuleFailure:
    """One broken rule of one batch, with a few offending values."""

    rule: str
    expectation: str
    column: str | None
    severity: str
    unexpected_count: int | None
    examples: list[str] = field(default_factory=list)
    detail: str = ""

    def describe(self) -> str:
        return f"[{self.severity}] {self.rule}: {self.detail}"


@dataclass
class GateResult:
    """The verdict on one batch; ``message()`` is what operators read."""

    batch_id: int
    dataset: str
    file_path: str
    passed: bool
    failures: list[RuleFailure]
    warnings: list[RuleFailure]
    source: str = ""
    partition_key: str = ""
    label: str = ""
    evaluated: int = 0
    row_bounds: dict[str, int | None] = field(default_factory=dict)
    docs_index: str | None = None
    seconds: float = 0.0
    outcomes: list[ExpectationOutcome] = field(default_factory=list)  # every expectation

    def head(self) -> str:
        """What was validated, as the message starts."""
        return f"{self.file_path} (batch {self.batch_id}, {self.label or self.dataset})"

    def message(self) -> str:
        head = self.head()
        if self.passed:
            text = f"{head}: passed {self.evaluated} expectation(s)"
            if self.warnings:
                text += f" with {len(self.warnings)} warning(s): " + "; ".join(
                    w.describe() for w in self.warnings
                )
            return text
        return f"{head}: " + "; ".join(f.describe() for f in self.failures + self.warnings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class GateFailed(RuntimeError):
    """Raised by callers when a batch failed the gate; the message lists every failure."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"quality gate failed ({len(problems)} problem(s)):\n- " + "\n- ".join(problems)
        )


def raise_for_failures(results: Iterable[GateResult]) -> None:
    """Raise GateFailed naming every batch that did not pass."""
    problems = [r.message() for r in results if not r.passed]
    if problems:
        raise GateFailed(problems)


@dataclass(frozen=True)
class _Batch:
    batch_id: int
    source: str
    dataset: str
    partition_key: str
    file_path: str
    status: str


# --- pure helpers --------------------------------------------------------------------------


def gx_connection_string(warehouse_url: str) -> str:
    """The SQLAlchemy URL GX needs for a libpq URL (postgresql://user:pw@host:port/db)."""
    return PgUrl.parse(warehouse_url).url("postgresql+psycopg2")


def row_count_bounds(reference_rows: int | None) -> dict[str, int | None]:
    """90 % to 110 % of the reference batch's rows; with no reference, at least one row."""
    if reference_rows is None:
        return {MIN_ROWS: 1, MAX_ROWS: None}
    return {
        MIN_ROWS: max(1, reference_rows * 9 // 10),
        MAX_ROWS: -(-reference_rows * 11 // 10),
    }


def _shown(value: Any) -> str:
    return "null" if value is None else repr(str(value))


def _lines(index_list: list[dict], value: Any) -> list[Any]:
    """CSV lines of the rows holding ``value`` (GX lists {_row_number, <column>} per row)."""
    return [
        row.get(ROW_NUMBER)
        for row in index_list
        if next((v for k, v in row.items() if k != ROW_NUMBER), None) == value
    ]


def _line_note(lines: list[Any]) -> str:
    lines = [n for n in lines if n is not None]
    if not lines:
        return ""
    more = "..." if len(lines) > 3 else ""
    return f" (line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines[:3]))}{more})"


def _column_examples(result: dict, duplicates: bool) -> list[str]:
    """Distinct offending values, each with the CSV lines it is on."""
    values = result.get("unexpected_list") or result.get("partial_unexpected_list") or []
    # Multi-column rules list each offending row as a dict of its values.
    values = [", ".join(f"{k} {v}" for k, v in x.items()) if isinstance(x, dict) else x
              for x in values]
    index_list = result.get("unexpected_index_list") or result.get("partial_unexpected_index_list")
    distinct = list(dict.fromkeys(values))
    if duplicates:
        counts = Counter(values)
        distinct = [v for v in distinct if counts[v] > 1] or distinct
    examples = []
    for value in distinct[:MAX_EXAMPLES]:
        note = _line_note(_lines(index_list, value)) if index_list else ""
        examples.append(_shown(value) + note)
    return examples


def _row_examples(rows: list[dict]) -> list[str]:
    examples = []
    for row in rows[:MAX_EXAMPLES]:
        items = list(row.items())
        if not items:
            continue
        text = _shown(items[0][1])
        if len(items) > 1:
            text += " (" + ", ".join(f"{k} {_shown(v)}" for k, v in items[1:]) + ")"
        examples.append(text)
    return examples


def _detail(kind: str, kwargs: dict, result: dict) -> tuple[int | None, list[str], str]:
    """How many, which, and one sentence, for one failed expectation result."""
    if kind == "expect_table_row_count_to_be_between":
        observed = result.get("observed_value")
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        expected = f"at least {low}" if high is None else f"between {low} and {high}"
        return None, [], f"{observed} row(s), expected {expected}"
    if kind == "unexpected_rows_expectation":
        count = result.get("observed_value")
        examples = _row_examples((result.get("details") or {}).get("unexpected_rows") or [])
        return count, examples, f"{count} row(s)"
    count = result.get("unexpected_count")
    duplicates = kind == "expect_column_values_to_be_unique"
    examples = _column_examples(result, duplicates)
    if duplicates:
        values = result.get("unexpected_list") or result.get("partial_unexpected_list") or []
        repeated = sum(1 for n in Counter(values).values() if n > 1)
        return count, examples, f"{repeated} duplicate value(s) on {count} row(s)"
    if kind == "expect_column_values_to_not_be_null":
        return count, examples, f"{count} null value(s)"
    if kind == "expect_column_values_to_match_regex":
        return count, examples, f"{count} value(s) not matching {kwargs.get('regex')}"
    if kind == "expect_column_values_to_be_in_set":
        allowed = ", ".join(map(str, kwargs.get("value_set") or []))
        return count, examples, f"{count} value(s) not in {{{allowed}}}"
    return count, examples, f"{count} unexpected value(s)"


def rule_failures(validation: dict, spec: SuiteSpec) -> tuple[list[RuleFailure], list[RuleFailure]]:
    """Critical failures and warnings of a suite validation result (its JSON dict form)."""
    order = {rule.rule: n for n, rule in enumerate(spec.rules)}
    broken: list[RuleFailure] = []
    for item in validation.get("results", []):
        if item.get("success"):
            continue
        config = item.get("expectation_config") or {}
        kind = config.get("type", "")
        kwargs = config.get("kwargs") or {}
        meta = config.get("meta") or {}
        severity = meta.get("severity") or str(config.get("severity") or CRITICAL)
        exception = item.get("exception_info") or {}
        if exception.get("raised_exception"):
            message = str(exception.get("exception_message") or "unknown error")
            count, examples, detail = None, [], f"could not be evaluated: {message[:300]}"
        else:
            count, examples, detail = _detail(kind, kwargs, item.get("result") or {})
        if examples:
            detail += ", e.g. " + ", ".join(examples)
        broken.append(
            RuleFailure(
                rule=meta.get("rule") or kind,
                expectation=kind,
                column=kwargs.get("column"),
                severity=severity,
                unexpected_count=count,
                examples=examples,
                detail=detail,
            )
        )
    broken.sort(key=lambda f: order.get(f.rule, len(order)))
    failures = [f for f in broken if f.severity == CRITICAL]
    warnings = [f for f in broken if f.severity != CRITICAL]
    return failures, warnings


# --- bookkeeping (psycopg 3) ---------------------------------------------------------------


def _lock(conn: psycopg.Connection) -> None:
    """Wait for any other gate run to finish; held until the connection closes."""
    conn.execute(f"set lock_timeout = '{LOCK_TIMEOUT}'")
    conn.execute("select pg_advisory_lock(hashtext(%s))", (GATE_LOCK,))
    conn.execute("reset lock_timeout")


LANDING_RULE = "landing"


def landing_warnings(conn: psycopg.Connection, batch_id: int) -> list[RuleFailure]:
    """What landing noted about the file (no data rows, a disguised format, an encoding
    other than UTF-8), as warnings of its verdict."""
    row = conn.execute(
        "select landing_notes from audit.load_batches where batch_id = %s", (batch_id,)
    ).fetchone()
    if not row or not row[0]:
        return []
    return [RuleFailure(LANDING_RULE, "landing", None, "warning", None, [], row[0])]


def _load_batch(conn: psycopg.Connection, batch_id: int) -> _Batch:
    row = conn.execute(
        """
        select batch_id, source, dataset, partition_key, file_path, status
        from audit.load_batches where batch_id = %s
        """,
        (batch_id,),
    ).fetchone()
    if row is None:
        raise LookupError(f"no batch {batch_id} in audit.load_batches")
    return _Batch(*row)


def _claim(conn: psycopg.Connection, batch: _Batch) -> None:
    """Reset stale 'validating' batches of the source, then mark this one 'validating'.

    Only called with the gate lock held: no other gate runs, so any 'validating' batch was
    left by a run that died. Resetting the whole source (not only this dataset) matters
    because the accepted_* views let a stale 'validating' parent batch vouch for children.
    """
    with conn.transaction():
        stale = conn.execute(
            """
            update audit.load_batches
            set status = 'loaded',
                status_reason = 'left validating by an interrupted gate run; reset by batch '
                    || %s::text
            where source = %s and status = 'validating' and batch_id <> %s
            returning batch_id
            """,
            (batch.batch_id, batch.source, batch.batch_id),
        ).fetchall()
        for (stale_id,) in stale:
            log.warning("batch %s was left 'validating'; reset to 'loaded'", stale_id)
        conn.execute(
            """
            update audit.load_batches
            set status = 'validating', status_reason = null, validated_at = null,
                finished_at = null
            where batch_id = %s
            """,
            (batch.batch_id,),
        )


def delivery_pattern(source: str, partition_key: str) -> str:
    """LIKE pattern of the partition keys of earlier deliveries comparable with this one.

    Sources delivered per regency or village compare a delivery with the previous one of
    the same regency (APBDes ``<regency>/<year>``: its other years and revisions) or village
    (IDM ``<year>/<kode_desa>``); a whole-province source (the region master, ...) with the
    previous delivery of the dataset, whatever its partition.
    """
    if partition_regency(source, partition_key):
        head, _, tail = partition_key.partition("/")
        return f"{head}/%" if source == "apbdes" else f"%/{tail}"
    return "%"


def _reference_rows(conn: psycopg.Connection, batch: _Batch) -> int | None:
    """Rows of the previous accepted delivery to compare with (a sudden drop is suspicious):
    the latest validated batch of the same dataset and, for sources delivered per regency
    or village, of the same regency or village (another partition, or an earlier batch of
    the same partition).

    Only the same dataset counts, so a synthetic supplement of the region master never is
    the reference of a real delivery; and a supplement has none itself: its size is what
    ``lumbung generate --scale`` asked for, not a delivery that may have lost rows.
    """
    if batch.source == kemendagri.SOURCE and kemendagri.is_synthetic(batch.dataset):
        return None
    row = conn.execute(
        """
        select rows_loaded from audit.load_batches
        where source = %s and dataset = %s and status = 'validated' and batch_id <> %s
            and partition_key like %s
            and (partition_key <> %s or batch_id < %s)
        order by validated_at desc nulls last, batch_id desc
        limit 1
        """,
        (batch.source, batch.dataset, batch.batch_id,
         delivery_pattern(batch.source, batch.partition_key), batch.partition_key,
         batch.batch_id),
    ).fetchone()
    return None if row is None else row[0]


def _finish(conn: psycopg.Connection, batch_id: int, passed: bool, reason: str | None) -> None:
    conn.execute(
        """
        update audit.load_batches
        set status = %s, status_reason = %s, finished_at = now(),
            validated_at = case when %s then now() else null end
        where batch_id = %s
        """,
        ("validated" if passed else "failed", reason, passed, batch_id),
    )


def _release(conn: psycopg.Connection, batch_id: int, error: BaseException) -> None:
    """The gate itself broke (not the data): back to 'loaded', so a rerun validates again.

    If even that fails (the warehouse went away), the batch stays 'validating' and the next
    gate run resets it; the original error is what the caller sees.
    """
    try:
        conn.execute(
            """
            update audit.load_batches
            set status = 'loaded', status_reason = %s
            where batch_id = %s and status = 'validating'
            """,
            (f"quality gate could not run: {type(error).__name__}: {error}"[:2000], batch_id),
        )
    except psycopg.Error:
        log.exception("could not put batch %s back to 'loaded'", batch_id)


# --- Great Expectations --------------------------------------------------------------------


@contextmanager
def _quiet_gx() -> Iterator[None]:
    """GX logs hundreds of INFO lines per run; keep task logs to its warnings."""
    logger = logging.getLogger("great_expectations")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _run_checkpoint(
    spec: SuiteSpec,
    connection_string: str,
    context_dir: Path,
    docs_dir: Path,
    bounds: dict[str, int | None],
    run_name: str,
) -> tuple[dict, str | None]:
    """Run the dataset's checkpoint; the suite result as a dict, and the docs index path.

    The data docs are brought up to date after the run, or once at the end of the
    enclosing :func:`one_docs_build` block."""
    from great_expectations.core.run_identifier import RunIdentifier

    docs_dir.mkdir(parents=True, exist_ok=True)
    with _quiet_gx():
        context = _context(context_dir, docs_dir, connection_string)
        try:
            outcome = context.checkpoints.get(spec.name).run(
                expectation_parameters=dict(bounds), run_id=RunIdentifier(run_name=run_name)
            )
            ((identifier, validation),) = outcome.run_results.items()
        finally:
            context.data_sources.get(DATASOURCE).get_engine().dispose()
    docs = _DocsUpdate(context_dir, docs_dir, connection_string)
    pending = _PENDING_DOCS.get()
    if pending is None:
        _build_docs(docs, [identifier], {spec.name}, context)
    else:
        pending.setdefault(docs, ([], set()))
        pending[docs][0].append(identifier)
        pending[docs][1].add(spec.name)
    return validation.to_json_dict(), str(docs_index(docs_dir))


def _context(context_dir: Path, docs_dir: Path, connection_string: str):
    import great_expectations as gx

    return gx.get_context(
        mode="file",
        context_root_dir=context_dir,
        runtime_environment={
            CONNECTION_VARIABLE: connection_string,
            DOCS_VARIABLE: str(docs_dir),
        },
    )


@dataclass(frozen=True)
class _DocsUpdate:
    """Which data docs site a checkpoint run belongs to."""

    context_dir: Path
    docs_dir: Path
    connection_string: str


# Inside ``one_docs_build``: the validations whose pages are still to be rendered, per site.
_PENDING_DOCS: ContextVar[dict[_DocsUpdate, tuple[list, set[str]]] | None] = ContextVar(
    "lumbung_pending_docs", default=None)


def _build_docs(docs: _DocsUpdate, validations: list, suites: set[str], context=None) -> None:
    """Render these validations and suites into the data docs and rebuild its index once
    (the index reads every stored validation, which is what makes a build slow)."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    with _quiet_gx():
        context = context or _context(docs.context_dir, docs.docs_dir, docs.connection_string)
        context.build_data_docs(
            site_names=[DOCS_SITE],
            resource_identifiers=[*validations,
                                  *(ExpectationSuiteIdentifier(name=s) for s in sorted(suites))],
        )


@contextmanager
def one_docs_build(warehouse_url: str) -> Iterator[None]:
    """Defer the data docs of every checkpoint run in the block to one build at its end: a
    gate or audit of many batches or marts rebuilds the docs index once, not per run. The
    build holds the gate lock, so two gates never write the docs site at once."""
    pending: dict[_DocsUpdate, tuple[list, set[str]]] = {}
    token = _PENDING_DOCS.set(pending)
    try:
        yield
    finally:
        _PENDING_DOCS.reset(token)
        if pending:
            started = time.monotonic()
            try:
                with psycopg.connect(warehouse_url, autocommit=True) as conn:
                    _lock(conn)
                    for docs, (validations, suites) in pending.items():
                        _build_docs(docs, validations, suites)
            except Exception as error:  # the verdicts are stored; only the pages are late
                log.warning("data docs not updated (%s); the next gate run renders its own "
                            "validations and the index", error)
            else:
                log.info("data docs: %d validation(s) rendered in %.1fs",
                         sum(len(v) for v, _ in pending.values()), time.monotonic() - started)


def docs_index(docs_dir: Path | None = None) -> Path:
    """Where the data docs index of the gate is (built after every validation)."""
    return (docs_dir or Paths.from_env().gx_docs) / "index.html"


# --- the gate ------------------------------------------------------------------------------


def partition_label(partition: str, key: str) -> str:
    """The partition named as the source calls it: ``edition 2025``, ``year 2024``,
    ``regency 1812, year 2024`` (a key ``1812/2024`` of partition ``regency/year``)."""
    names, parts = partition.split("/"), key.split("/")
    if len(names) != len(parts):
        return f"{partition} {key}"
    return ", ".join(f"{name} {part}" for name, part in zip(names, parts, strict=True))


def _label(spec: SuiteSpec, batch: _Batch) -> str:
    # A dataset checked with another's suite (the region master's synthetic supplement)
    # says which it is.
    label = spec.label if batch.dataset == spec.dataset else f"{spec.label} ({batch.dataset})"
    if not batch.partition_key:
        return label
    return f"{label}, {partition_label(spec.partition, batch.partition_key)}"


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
    with _quiet_gx():  # seconds to import: do it before taking the lock
        import great_expectations  # noqa: F401

    paths = Paths.from_env()
    context_dir = context_dir or paths.expectations / "gx"
    docs_dir = docs_dir or paths.gx_docs
    if not (context_dir / "great_expectations.yml").is_file():
        # GX would scaffold an empty context there; the gate must not run without its rules.
        raise FileNotFoundError(f"no Great Expectations context in {context_dir}")
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _lock(conn)
        batch = _load_batch(conn, batch_id)
        if batch.status not in GATEABLE:
            raise ValueError(
                f"batch {batch_id} ({batch.file_path}) is '{batch.status}': only landed "
                "batches can be validated"
            )
        spec = suite_for(batch.source, batch.dataset)
        _claim(conn, batch)
        try:
            bounds = row_count_bounds(_reference_rows(conn, batch))
            validation, index = _run_checkpoint(
                spec,
                gx_connection_string(warehouse_url),
                context_dir,
                docs_dir,
                bounds,
                run_name=f"batch-{batch.batch_id}",
            )
            failures, warnings = rule_failures(validation, spec)
            warnings += landing_warnings(conn, batch.batch_id)
            result = GateResult(
                batch_id=batch.batch_id,
                dataset=batch.dataset,
                file_path=batch.file_path,
                passed=not failures,
                failures=failures,
                warnings=warnings,
                source=batch.source,
                partition_key=batch.partition_key,
                label=_label(spec, batch),
                evaluated=validation.get("statistics", {}).get("evaluated_expectations", 0),
                row_bounds=bounds,
                docs_index=index,
                outcomes=expectation_outcomes(validation, failures + warnings),
            )
            # A validated batch keeps its warnings as its reason; a clean one has none.
            reason = result.message() if result.failures or result.warnings else None
            with conn.transaction():  # the verdict and its stored results, or neither
                _finish(conn, batch.batch_id, result.passed, reason)
                record_batch(conn, result, spec.name)
        except BaseException as error:
            _release(conn, batch.batch_id, error)
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


# --- many batches in one checkpoint run ----------------------------------------------------

BATCH_COLUMN = "_batch_id"  # first column of every rule of a suite gated many batches at once


def _splittable(spec: SuiteSpec) -> bool:
    """Whether a run over many batches can be split into per-batch verdicts: every rule is
    an unexpected-rows query (column and row-count rules only see the whole table)."""
    return all(rule.expectation == "UnexpectedRowsExpectation" for rule in spec.rules)


def _severity(item: dict) -> str:
    config = item.get("expectation_config") or {}
    return (config.get("meta") or {}).get("severity") or str(config.get("severity") or CRITICAL)


def _split(validation: dict, pending: Iterable[int]) -> tuple[dict[int, dict], set[int] | None]:
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
                {**item, "result": {"observed_value": len(batch_rows),
                                    "details": {"unexpected_rows": batch_rows}}}
            )
            named.add(batch_id)
            if _severity(item) == CRITICAL:
                named_critical.add(batch_id)
        if (result.get("observed_value") or 0) > len(rows):
            overflow.add(_severity(item))
    if not overflow:
        return per_batch, set(per_batch)
    settled = named_critical if CRITICAL in overflow else named
    return per_batch, (settled or None)


def _claim_many(conn: psycopg.Connection, source: str, batch_ids: list[int]) -> None:
    """Like ``_claim``, for several batches of one source at once."""
    with conn.transaction():
        stale = conn.execute(
            """
            update audit.load_batches
            set status = 'loaded',
                status_reason = 'left validating by an interrupted gate run; reset'
            where source = %s and status = 'validating' and not (batch_id = any(%s))
            returning batch_id
            """,
            (source, batch_ids),
        ).fetchall()
        for (stale_id,) in stale:
            log.warning("batch %s was left 'validating'; reset to 'loaded'", stale_id)
        conn.execute(
            """
            update audit.load_batches
            set status = 'validating', status_reason = null, validated_at = null,
                finished_at = null
            where batch_id = any(%s)
            """,
            (batch_ids,),
        )


def _unclaim(conn: psycopg.Connection, batch_ids: Iterable[int]) -> None:
    conn.execute(
        "update audit.load_batches set status = 'loaded' "
        "where batch_id = any(%s) and status = 'validating'",
        (list(batch_ids),),
    )


def _validate_together(
    warehouse_url: str, spec: SuiteSpec, batch_ids: list[int], context_dir: Path, docs_dir: Path
) -> tuple[list[GateResult], list[int]]:
    """One checkpoint run (more only when a rule names over 200 batches) for many batches of
    one dataset; returns their results and the batches it could not judge apart."""
    results: list[GateResult] = []
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _lock(conn)
        batches = {i: _load_batch(conn, i) for i in batch_ids}
        for batch in batches.values():
            if batch.status not in GATEABLE:
                raise ValueError(
                    f"batch {batch.batch_id} ({batch.file_path}) is '{batch.status}': only "
                    "landed batches can be validated"
                )
        _claim_many(conn, spec.source, list(batches))
        pending = dict(batches)
        bounds = row_count_bounds(None)
        try:
            while pending:
                first, last = min(pending), max(pending)
                validation, index = _run_checkpoint(
                    spec, gx_connection_string(warehouse_url), context_dir, docs_dir, bounds,
                    run_name=f"batches-{first}-{last}-{len(pending)}",
                )
                per_batch, settled = _split(validation, pending)
                if settled is None:
                    _unclaim(conn, pending)
                    return results, list(pending)
                evaluated = validation.get("statistics", {}).get("evaluated_expectations", 0)
                for batch_id in sorted(settled):
                    batch = pending.pop(batch_id)
                    view = batch_view(validation, per_batch[batch_id]["results"])
                    failures, warnings = rule_failures(view, spec)
                    warnings += landing_warnings(conn, batch_id)
                    result = GateResult(
                        batch_id=batch.batch_id,
                        dataset=batch.dataset,
                        file_path=batch.file_path,
                        passed=not failures,
                        failures=failures,
                        warnings=warnings,
                        source=batch.source,
                        partition_key=batch.partition_key,
                        label=_label(spec, batch),
                        evaluated=evaluated,
                        row_bounds=bounds,
                        docs_index=index,
                        outcomes=expectation_outcomes(view, failures + warnings),
                    )
                    reason = result.message() if failures or warnings else None
                    with conn.transaction():
                        _finish(conn, batch_id, result.passed, reason)
                        record_batch(conn, result, spec.name)
                    results.append(result)
        except BaseException as error:
            for batch_id in pending:
                _release(conn, batch_id, error)
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
    ``_batch_id`` first are validated together: all 'validating' at once, one checkpoint run,
    the failing rows split by ``_batch_id``. (A checkpoint run costs about half a second
    whatever the rows, so this is what makes gating hundreds of small files practical.)
    Other suites, a single batch, or a failure that names no batch fall back to
    ``validate_batch`` one batch at a time, so the verdicts are always those it would give.
    """
    started = time.monotonic()
    ids = list(dict.fromkeys(batch_ids))
    if not ids:
        return []
    with _quiet_gx():
        import great_expectations  # noqa: F401

    paths = Paths.from_env()
    context_dir = context_dir or paths.expectations / "gx"
    docs_dir = docs_dir or paths.gx_docs
    if not (context_dir / "great_expectations.yml").is_file():
        raise FileNotFoundError(f"no Great Expectations context in {context_dir}")
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        batches = [_load_batch(conn, i) for i in ids]
    groups: dict[tuple[str, str], list[int]] = {}
    for batch in batches:
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
        if len(members) > 1 and _splittable(spec):
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
