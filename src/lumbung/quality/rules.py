"""Rule types and the builders every source's rules are written with.

A ``Rule`` is one Great Expectations expectation (class, arguments, severity, a short name);
a ``SuiteSpec`` is the rules of one dataset. The per-source modules (``*_rules.py``) build
their suites from the helpers here; ``lumbung.quality.suites`` lists them all. This module
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

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")

    @property
    def meta(self) -> dict[str, str]:
        return {"severity": self.severity, "rule": self.rule}


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
