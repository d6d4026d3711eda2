"""Rule types and the builders every source's rules are written with.

A ``Rule`` is one Great Expectations expectation (class, arguments, severity, a short name);
a ``SuiteSpec`` is the rules of one dataset. The per-source modules (``*_rules.py``) build
their suites from the helpers here (those ``*_by_batch`` for suites that judge many batches
in one checkpoint run); ``lumbung.quality.suites`` lists them all. This module
imports nothing of the package, so any module of it may import this one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GATE_SCHEMA = "audit"
CRITICAL = "critical"
WARNING = "warning"
MIN_ROWS = "min_rows"
MAX_ROWS = "max_rows"
ROW_NUMBER = "_row_number"  # the CSV line a row came from, reported with unexpected values
BATCH_COLUMN = "_batch_id"  # first column of every rule of a suite gated many batches at once

# Lampung lies within about 3.7-6.2 S and 103.6-105.9 E (islands of the Sunda Strait
# included); the box adds a margin so only misplaced or swapped coordinates are flagged.
LAT_RANGE = (-6.5, -3.5)
LNG_RANGE = (103.3, 106.3)

# Code shapes. The suites use \d{n}; SQL inside UnexpectedRowsExpectation queries spells the
# same shapes without braces, because GX formats those queries with str.format.
REGENCY_CODE = r"^\d{2}\.\d{2}$"
DISTRICT_CODE = r"^\d{2}\.\d{2}\.\d{2}$"
VILLAGE_CODE = r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"
SQL_REGENCY_CODE = r"^\d\d\.\d\d$"
SQL_DISTRICT_CODE = r"^\d\d\.\d\d\.\d\d$"
SQL_VILLAGE_CODE = r"^\d\d\.\d\d\.\d\d\.\d\d\d\d$"
SQL_DECIMAL = r"^-?\d+(\.\d+)?$"


@dataclass(frozen=True)
class Rule:
    """One expectation: its GX class, arguments, severity and a short human name."""

    rule: str
    expectation: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    severity: str = CRITICAL
    # More for the expectation's meta: what a batch-aware column rule checks (``by_batch``).
    about: dict[str, Any] = field(default_factory=dict)

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column") or self.about.get("column")

    @property
    def meta(self) -> dict[str, Any]:
        return {"severity": self.severity, "rule": self.rule, **self.about}


@dataclass(frozen=True)
class SuiteSpec:
    """The rules for one dataset of one source, checked on its gate view."""

    source: str
    dataset: str
    name: str
    rules: tuple[Rule, ...]
    # A batch suite reads its gate view audit.gate_<name>; a mart suite names its table.
    schema: str = GATE_SCHEMA
    table: str | None = None
    # What a batch's partition key is for this dataset, as people call it: "edition", "year",
    # "regency/year" for a key "1812/2024". Gate messages name the partition with it.
    partition: str = "partition"

    @property
    def view(self) -> str:
        return self.table or f"gate_{self.name}"

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")


# --- column rules --------------------------------------------------------------------------


def matches(column: str, regex: str, rule: str) -> Rule:
    return Rule(rule, "ExpectColumnValuesToMatchRegex", {"column": column, "regex": regex})


def not_null(column: str) -> Rule:
    return Rule(f"{column} present", "ExpectColumnValuesToNotBeNull", {"column": column})


def present(column: str) -> tuple[Rule, ...]:
    """Not null and not blank."""
    return not_null(column), matches(column, r"\S", f"{column} not blank")


def unique(column: str) -> Rule:
    return Rule(f"{column} unique", "ExpectColumnValuesToBeUnique", {"column": column})


def unique_together(*columns: str) -> Rule:
    return Rule(f"one row per {', '.join(columns)}", "ExpectCompoundColumnsToBeUnique",
                {"column_list": list(columns)})


def in_set(column: str, values: list[str]) -> Rule:
    return Rule(
        f"{column} in {{{', '.join(values)}}}",
        "ExpectColumnValuesToBeInSet",
        {"column": column, "value_set": values},
    )


def between(column: str, low: float, high: float) -> Rule:
    return Rule(f"{column} between {low} and {high}", "ExpectColumnValuesToBeBetween",
                {"column": column, "min_value": low, "max_value": high})


def row_count() -> Rule:
    """Rows within the bounds the gate passes at run time (``MIN_ROWS``, ``MAX_ROWS``)."""
    return Rule(
        "row count in expected range",
        "ExpectTableRowCountToBeBetween",
        {"min_value": {"$PARAMETER": MIN_ROWS}, "max_value": {"$PARAMETER": MAX_ROWS}},
    )


# --- rules batch by batch ------------------------------------------------------------------
# The column rules above see their whole gate view, so a suite using them validates one batch
# per checkpoint run. The rules below are unexpected-rows queries that name the batch of every
# row they return (``_batch_id`` first), so that all the batches of a delivery are judged in
# one run (``lumbung.quality.many_batches``). GX keeps a query's first 200 rows across every
# batch under validation, so each batch returns only what its message shows (a few examples,
# by batch) with, on every row, how many rows of the batch break the rule (``BATCH_COUNT``).
# The column variants keep the column rule's name and severity and return the CSV line and
# value of each offending row; ``lumbung.quality.messages`` words them as the column rule they
# stand for (their meta says which). Like GX's column rules, all but ``not_null`` skip nulls.

BATCH_COUNT = "_batch_unexpected"  # rows of the batch breaking the rule
BATCH_VALUES = "_batch_values"  # distinct values breaking a column rule in the batch
BATCH_SEQ = "_batch_seq"
BATCH_NTH = "_batch_nth"
# Columns of the rules' bookkeeping, not of the data: messages and per-batch views drop them.
BATCH_HELPERS = (BATCH_COUNT, BATCH_VALUES, BATCH_SEQ, BATCH_NTH)
STANDS_FOR = "stands_for"  # in a column variant's meta: the column expectation it stands for
EXAMPLES_PER_BATCH = 5  # rows (values, for column rules) a message shows
LINES_PER_VALUE = 4  # lines of a value a message shows, and one to say there are more


def no_rows_by_batch(rule: str, query: str, description: str,
                     severity: str = CRITICAL) -> Rule:
    """A rule broken by every row the query returns; its first column is the row's batch
    (``_batch_id``), its second names the row. Each batch returns its first rows only, in
    the order of their text (a query's own order does not survive the wrapping, and the
    table's order changes with what else it holds), each with the batch's count."""
    wrapped = (
        f"select * from (select *, count(*) over (partition by {BATCH_COLUMN}) as {BATCH_COUNT}, "
        f"row_number() over (partition by {BATCH_COLUMN} order by {BATCH_SEQ}) as {BATCH_NTH} "
        f"from (select q.*, row_number() over (order by q::text) as {BATCH_SEQ} "
        f"from ({' '.join(query.split())}) as q) as s) as n "
        f"where {BATCH_NTH} <= {EXAMPLES_PER_BATCH} order by {BATCH_COLUMN}, {BATCH_NTH}"
    )
    return no_rows(rule, wrapped, description, severity)


def _sql_text(value: str) -> str:
    """A SQL string literal for a query GX formats with str.format (braces doubled) and runs
    as SQLAlchemy ``text()``, which reads ``:name`` as a parameter (so no colon)."""
    if ":" in value:
        raise ValueError(f"{value!r}: a colon would be read as a query parameter")
    quoted = "'" + value.replace("'", "''") + "'"
    return quoted.replace("{", "{{").replace("}", "}}")


def _sql_regex(regex: str) -> str:
    """A regex as a SQL literal: groups ``(?:...)`` capture in it, which matches the same."""
    return _sql_text(regex.replace("(?:", "("))


def _offending_rows(column: str, where: str, relation: str = "{batch}") -> str:
    """The rows of ``relation`` (the batches under validation) where ``where`` holds: batch,
    CSV line and value, by batch and line; per batch only the lines of its first values
    (in order of first line) that a message shows, each row with the batch's counts."""
    col = f'"{column}"'
    return (
        f"select {BATCH_COLUMN}, {ROW_NUMBER}, {col}, {BATCH_COUNT}, {BATCH_VALUES} from ("
        f"select *, max(_value) over (partition by {BATCH_COLUMN}) as {BATCH_VALUES} from ("
        f"select *, dense_rank() over (partition by {BATCH_COLUMN} order by _first) as _value "
        f"from (select {BATCH_COLUMN}, {ROW_NUMBER}, {col}, "
        f"count(*) over (partition by {BATCH_COLUMN}) as {BATCH_COUNT}, "
        f"row_number() over (partition by {BATCH_COLUMN}, {col} order by {ROW_NUMBER}) as _nth, "
        f"min({ROW_NUMBER}) over (partition by {BATCH_COLUMN}, {col}) as _first "
        f"from {relation} where {where}) as o) as r) as v "
        f"where _value <= {EXAMPLES_PER_BATCH} and _nth <= {LINES_PER_VALUE} "
        f"order by {BATCH_COLUMN}, {ROW_NUMBER}"
    )


def _by_batch(rule: Rule, query: str, description: str, **about: Any) -> Rule:
    """``rule`` (a column rule) as a query rule by batch, keeping its name and severity."""
    column = rule.kwargs["column"]
    return Rule(
        rule.rule,
        "UnexpectedRowsExpectation",
        {"unexpected_rows_query": query, "description": description},
        rule.severity,
        {"column": column, STANDS_FOR: _EXPECTATION_TYPES[rule.expectation], **about},
    )


_EXPECTATION_TYPES = {
    "ExpectColumnValuesToNotBeNull": "expect_column_values_to_not_be_null",
    "ExpectColumnValuesToMatchRegex": "expect_column_values_to_match_regex",
    "ExpectColumnValuesToBeUnique": "expect_column_values_to_be_unique",
    "ExpectColumnValuesToBeInSet": "expect_column_values_to_be_in_set",
}


def not_null_by_batch(column: str) -> Rule:
    return _by_batch(not_null(column), _offending_rows(column, f'"{column}" is null'),
                     f"{column} is never null")


def matches_by_batch(column: str, regex: str, rule: str) -> Rule:
    return _by_batch(
        matches(column, regex, rule),
        _offending_rows(column, f'"{column}" !~ {_sql_regex(regex)}'),
        f"every {column} matches {regex}",
        regex=regex,
    )


def present_by_batch(column: str) -> tuple[Rule, ...]:
    """Not null and not blank."""
    return not_null_by_batch(column), matches_by_batch(column, r"\S", f"{column} not blank")


def unique_by_batch(column: str) -> Rule:
    """No value twice within a batch (every row holding a repeated value breaks it)."""
    copies = (f'(select *, count(*) over (partition by {BATCH_COLUMN}, "{column}") as _copies '
              f'from {{batch}} where "{column}" is not null) as c')
    return _by_batch(unique(column), _offending_rows(column, "_copies > 1", copies),
                     f"no {column} appears twice in a batch")


def in_set_by_batch(column: str, values: list[str]) -> Rule:
    listed = ", ".join(_sql_text(v) for v in values)
    return _by_batch(
        in_set(column, values),
        _offending_rows(column, f'"{column}" not in ({listed})'),
        f"every {column} is one of {', '.join(values)}",
        value_set=list(values),
    )


# --- query rules ---------------------------------------------------------------------------


def no_rows(rule: str, query: str, description: str, severity: str = CRITICAL) -> Rule:
    """A rule broken by every row the query returns; its first column names the row."""
    return Rule(
        rule,
        "UnexpectedRowsExpectation",
        {"unexpected_rows_query": " ".join(query.split()), "description": description},
        severity,
    )


def derived(column: str, expected_sql: str, code_sql: str, description: str) -> Rule:
    """``column`` must equal an expression of ``code``; judged only where code is well formed
    (the format rule reports the others)."""
    return no_rows(
        f"{column} matches code",
        f"""
        select code, {column} from {{batch}}
        where code ~ '{code_sql}' and {column} is distinct from {expected_sql}
        """,
        description,
    )


def parent_exists(parent_view: str, parent_label: str) -> Rule:
    return no_rows(
        f"parent {parent_label} exists",
        f"""
        select b.code, b.parent_code
        from {{batch}} as b
        left join {GATE_SCHEMA}.{parent_view} as p
            on p.code = b.parent_code and p._edition = b._edition
        where p.code is null
        """,
        f"parent_code is the code of a {parent_label} accepted by the gate for the same edition",
    )


def centroid_in_province() -> Rule:
    lat_lo, lat_hi = LAT_RANGE
    lng_lo, lng_hi = LNG_RANGE
    return no_rows(
        "centroid in Lampung",
        f"""
        select code, lat_centroid, lng_centroid
        from (
            select code, lat_centroid, lng_centroid,
                case when trim(lat_centroid) ~ '{SQL_DECIMAL}'
                    then cast(trim(lat_centroid) as numeric) end as lat,
                case when trim(lng_centroid) ~ '{SQL_DECIMAL}'
                    then cast(trim(lng_centroid) as numeric) end as lng
            from {{batch}}
        ) as c
        where (coalesce(trim(lat_centroid), '') <> '' or coalesce(trim(lng_centroid), '') <> '')
            and not coalesce(
                lat between {lat_lo} and {lat_hi} and lng between {lng_lo} and {lng_hi}, false
            )
        """,
        f"a centroid, when given, is a decimal latitude in [{lat_lo}, {lat_hi}] and longitude "
        f"in [{lng_lo}, {lng_hi}] (a box around Lampung)",
        WARNING,
    )
