"""What the gate writes about a validation: broken rules in words, with example values and
the CSV lines they are on, and how a batch is named in its verdict."""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol

from lumbung.quality.rules import (
    BATCH_COLUMN,
    BATCH_HELPERS,
    BATCH_VALUES,
    CRITICAL,
    ROW_NUMBER,
    STANDS_FOR,
    SuiteSpec,
)
from lumbung.quality.verdict import RuleFailure

MAX_EXAMPLES = 5


class Named(Protocol):
    """What a batch label needs of a batch."""

    dataset: str
    partition_key: str


def severity(item: dict) -> str:
    """The severity of one expectation result (its rule's meta, else GX's own field)."""
    config = item.get("expectation_config") or {}
    return (config.get("meta") or {}).get("severity") or str(config.get("severity") or CRITICAL)


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
        # a message is about one batch: the column naming it tells nothing more
        items = [(k, v) for k, v in row.items() if k != BATCH_COLUMN and k not in BATCH_HELPERS]
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
        repeated = result.get("distinct_unexpected") or sum(
            1 for n in Counter(values).values() if n > 1)
        return count, examples, f"{repeated} duplicate value(s) on {count} row(s)"
    if kind == "expect_column_values_to_not_be_null":
        return count, examples, f"{count} null value(s)"
    if kind == "expect_column_values_to_match_regex":
        return count, examples, f"{count} value(s) not matching {kwargs.get('regex')}"
    if kind == "expect_column_values_to_be_in_set":
        allowed = ", ".join(map(str, kwargs.get("value_set") or []))
        return count, examples, f"{count} value(s) not in {{{allowed}}}"
    return count, examples, f"{count} unexpected value(s)"


def as_column_result(kind: str, kwargs: dict, meta: dict,
                     result: dict) -> tuple[str, dict, dict]:
    """A batch-aware column rule's result (its offending rows, ``rules.matches_by_batch``
    and the like) as the column expectation it stands for would give it: its type, arguments
    and result with the unexpected values and their lines. Any other result is unchanged."""
    stands_for = meta.get(STANDS_FOR)
    if kind != "unexpected_rows_expectation" or not stands_for:
        return kind, kwargs, result
    column = meta.get("column")
    rows = (result.get("details") or {}).get("unexpected_rows") or []
    as_kwargs = {k: v for k, v in meta.items() if k not in (STANDS_FOR, "severity", "rule")}
    return stands_for, as_kwargs, {
        "unexpected_count": result.get("observed_value"),
        # how many distinct values: the rows show only the first few
        "distinct_unexpected": rows[0].get(BATCH_VALUES) if rows else None,
        "unexpected_list": [row.get(column) for row in rows],
        "unexpected_index_list": [{ROW_NUMBER: row.get(ROW_NUMBER), column: row.get(column)}
                                  for row in rows],
    }


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
        exception = item.get("exception_info") or {}
        if exception.get("raised_exception"):
            message = str(exception.get("exception_message") or "unknown error")
            count, examples, detail = None, [], f"could not be evaluated: {message[:300]}"
        else:
            count, examples, detail = _detail(
                *as_column_result(kind, kwargs, meta, item.get("result") or {}))
        if examples:
            detail += ", e.g. " + ", ".join(examples)
        broken.append(
            RuleFailure(
                rule=meta.get("rule") or kind,
                expectation=kind,
                column=kwargs.get("column") or meta.get("column"),
                severity=severity(item),
                unexpected_count=count,
                examples=examples,
                detail=detail,
            )
        )
    broken.sort(key=lambda f: order.get(f.rule, len(order)))
    failures = [f for f in broken if f.severity == CRITICAL]
    warnings = [f for f in broken if f.severity != CRITICAL]
    return failures, warnings


def partition_label(partition: str, key: str) -> str:
    """The partition named as the source calls it: ``edition 2025``, ``year 2024``,
    ``regency 1812, year 2024`` (a key ``1812/2024`` of partition ``regency/year``)."""
    names, parts = partition.split("/"), key.split("/")
    if len(names) != len(parts):
        return f"{partition} {key}"
    return ", ".join(f"{name} {part}" for name, part in zip(names, parts, strict=True))


def batch_label(spec: SuiteSpec, batch: Named) -> str:
    """The dataset and partition of a batch, as its verdict names them."""
    # A dataset checked with another's suite (the region master's synthetic supplement)
    # says which it is.
    label = spec.label if batch.dataset == spec.dataset else f"{spec.label} ({batch.dataset})"
    if not batch.partition_key:
        return label
    return f"{label}, {partition_label(spec.partition, batch.partition_key)}"
