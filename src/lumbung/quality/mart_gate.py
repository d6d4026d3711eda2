"""The mart audit of write-audit-publish: each built mart's suite, run in the build schema.

``audit_marts`` runs the checkpoint of every mart a dbt build produced (suites in
``lumbung.quality.mart_rules``) and raises ``GateFailed`` naming the mart, the rule and
example values when a critical rule fails, so the publish task never runs and ``marts`` keeps
its previous version. A mart without a suite is not published either.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from lumbung.config import Paths
from lumbung.quality.checkpoints import (
    gx_connection_string,
    one_docs_build,
    quiet_gx,
    run_checkpoint,
)
from lumbung.quality.mart_rules import SOURCE, suite_name
from lumbung.quality.messages import rule_failures
from lumbung.quality.results import MART, expectation_outcomes, record
from lumbung.quality.rules import MAX_ROWS, MIN_ROWS
from lumbung.quality.suites import suite_for
from lumbung.quality.verdict import GateFailed, GateResult

log = logging.getLogger(__name__)


@dataclass
class MartResult(GateResult):
    """A mart's verdict; reads like a batch's, naming the built table instead of a file."""

    def head(self) -> str:
        return f"{self.file_path} ({self.label})"


def validate_mart(
    warehouse_url: str, table: str, *, context_dir: Path | None = None,
    docs_dir: Path | None = None,
) -> MartResult:
    """Run the mart's suite on its build table; raises KeyError when it has no suite."""
    started = time.monotonic()
    paths = Paths.from_env()
    spec = suite_for(SOURCE, table)
    bounds = {MIN_ROWS: 1, MAX_ROWS: None}
    validation, index = run_checkpoint(
        spec, gx_connection_string(warehouse_url), context_dir or paths.expectations / "gx",
        docs_dir or paths.gx_docs, bounds, run_name=f"mart-{table}",
    )
    failures, warnings = rule_failures(validation, spec)
    return MartResult(
        batch_id=0,
        dataset=table,
        file_path=f"{spec.schema}.{table}",
        passed=not failures,
        failures=failures,
        warnings=warnings,
        source=SOURCE,
        label=f"mart audit {suite_name(table)}",
        evaluated=validation.get("statistics", {}).get("evaluated_expectations", 0),
        row_bounds=bounds,
        docs_index=index,
        seconds=round(time.monotonic() - started, 3),
        outcomes=expectation_outcomes(validation, failures + warnings),
    )


def audit_marts(
    warehouse_url: str, tables: list[str], dag_id: str | None = None, run_id: str | None = None
) -> list[MartResult]:
    """Audit every built mart and store each verdict in ``audit.dq_runs`` / ``dq_results``
    (layer 'mart'); raise GateFailed (after checking all) if any may not be published.
    Warnings are logged and returned: they do not stop publication."""
    with quiet_gx():
        import great_expectations  # noqa: F401

    problems: list[str] = []
    results: list[MartResult] = []
    with one_docs_build(warehouse_url):
        for table in tables:
            try:
                result = validate_mart(warehouse_url, table)
            except KeyError:
                problems.append(f"marts_build.{table}: no audit suite (add one in "
                                "lumbung.quality.mart_rules); not published")
                continue
            results.append(result)
            with psycopg.connect(warehouse_url, autocommit=True) as conn:
                record(conn, result, layer=MART, source=SOURCE, dataset=table,
                       suite=suite_name(table), dag_id=dag_id, run_id=run_id)
            log.info("mart audit: %s", result.message())
            if not result.passed:
                problems.append(result.message())
    if problems:
        log.error("mart audit failed: nothing is published; marts keep the last good version")
        raise GateFailed(problems)
    return results
