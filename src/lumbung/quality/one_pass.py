"""One query per unexpected-rows rule.

GX's ``UnexpectedRowsExpectation`` asks for two metrics of the same query, its first rows
(``unexpected_rows_query.table``) and its row count (``unexpected_rows_query.row_count``),
and runs the query once for each. On the gate's views the query is the whole cost (joins
and grouping over every landed line), so importing this module registers both metrics for
SQL engines anew, taken from one statement that returns the first rows with the total.
The expectation, its results and its data docs are unchanged. Each query logs its rule's
name (``name_rules``), what it found and how long it took: a long gate says what it is
doing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
from great_expectations.constants import MAX_RESULT_RECORDS
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.query_metric_provider import QueryMetricProvider
from great_expectations.validator.metric_configuration import MetricConfiguration

_BOTH = "unexpected_rows_query.first_rows_and_count"
_TOTAL = "_lumbung_unexpected_total"

log = logging.getLogger(__name__)
# query (whitespace collapsed) -> (suite, rule): what the progress lines call a query
_NAMES: dict[str, tuple[str, str]] = {}


def _key(query: str) -> str:
    return " ".join(query.split())


def name_rules(suite: str, rules) -> None:
    """Name the unexpected-rows queries of a suite's rules (``rules.Rule``) in the log."""
    for rule in rules:
        query = rule.kwargs.get("unexpected_rows_query")
        if query:
            _NAMES[_key(query)] = (suite, rule.rule)


class _UnexpectedRowsFirstRowsAndCount(QueryMetricProvider):
    """(first rows, total row count) of the rule's query, in one statement."""

    metric_name = _BOTH
    value_keys = ("unexpected_rows_query",)
    query_param_name = "unexpected_rows_query"

    @metric_value(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, execution_engine: SqlAlchemyExecutionEngine,
                    metric_domain_kwargs: dict, metric_value_kwargs: dict,
                    metrics: dict[str, Any], runtime_configuration: dict,
                    ) -> tuple[list[dict], int]:
        started = time.monotonic()
        selectable, _, _ = execution_engine.get_compute_domain(
            metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE)
        rule_query = cls._get_query_from_metric_value_kwargs(metric_value_kwargs)
        query = cls._get_substituted_batch_subquery_from_query_and_batch_selectable(
            query=rule_query, batch_selectable=selectable, execution_engine=execution_engine)
        statement = (f"SELECT unexpected.*, COUNT(*) OVER () AS {_TOTAL} "
                     f"FROM ({query}) AS unexpected LIMIT {MAX_RESULT_RECORDS}")
        rows = [row._asdict() for row in execution_engine.execute_query(sa.text(statement))]
        total = int(rows[0][_TOTAL]) if rows else 0
        for row in rows:
            del row[_TOTAL]
        suite, rule = _NAMES.get(_key(rule_query), ("gate", "a rule"))
        log.info("%s: rule '%s' checked in %.1fs: %d row(s) break it", suite, rule,
                 time.monotonic() - started, total)
        return rows, total


def _from_both(metric: MetricConfiguration) -> dict[str, MetricConfiguration]:
    return {_BOTH: MetricConfiguration(_BOTH, metric.metric_domain_kwargs,
                                       metric.metric_value_kwargs)}


class _OnePass(QueryMetricProvider):
    value_keys = ("unexpected_rows_query",)
    query_param_name = "unexpected_rows_query"

    @classmethod
    def _get_evaluation_dependencies(cls, metric, configuration=None, execution_engine=None,
                                     runtime_configuration=None):
        return {**super()._get_evaluation_dependencies(
            metric, configuration, execution_engine, runtime_configuration),
            **_from_both(metric)}


# GX warns when a metric is registered again; here that is the point.
_registry_log = logging.getLogger("great_expectations.expectations.registry")
_level = _registry_log.level
_registry_log.setLevel(logging.ERROR)
try:
    class _UnexpectedRowsTable(_OnePass):
        metric_name = "unexpected_rows_query.table"

        @metric_value(engine=SqlAlchemyExecutionEngine)
        def _sqlalchemy(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs,
                        metrics, runtime_configuration) -> list[dict]:
            return metrics[_BOTH][0]

    class _UnexpectedRowsCount(_OnePass):
        metric_name = "unexpected_rows_query.row_count"

        @metric_value(engine=SqlAlchemyExecutionEngine)
        def _sqlalchemy(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs,
                        metrics, runtime_configuration) -> int:
            return metrics[_BOTH][1]
finally:
    _registry_log.setLevel(_level)
