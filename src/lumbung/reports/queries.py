"""What the auditor outputs show, read from the warehouse: one small query function each.

Landing facts come from ``audit.load_batches`` and ``audit.quarantine``; rule-level gate
results from ``audit.dq_runs`` / ``audit.dq_results`` when the warehouse records them; the
cross-checks from the marts that compute them (``marts.mart_idm``,
``marts.mart_village_finance``, ``marts.mart_bumdes_regency``) when they are published.
A missing table is never an error: its section says it is not available.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from lumbung.landing import Batch
from lumbung.reports.regency import batch_regency, quarantined_row_regency

log = logging.getLogger(__name__)

MART_ROWS_SHOWN = 200  # rows listed per cross-check section (the count is always complete)
TREND_DAYS = 90  # most recent landing days shown in the trend


@dataclass
class BatchSummary(Batch):
    """One landed file (the latest batch of its path), its counts and its regency."""

    reason: str | None
    received: int
    loaded: int
    quarantined: int
    received_at: datetime
    regency: str | None

    @property
    def has_problems(self) -> bool:
        return self.quarantined > 0 or self.status in ("rejected", "failed")


@dataclass
class QuarantinedRow:
    batch_id: int
    source: str
    dataset: str
    file_path: str
    row_number: int
    reason: str
    column: str | None
    value: str | None
    raw_record: str
    regency: str | None


@dataclass
class FailedCheck:
    """A check that did not pass: a rejected file, a gate rule, or a gate verdict."""

    source: str
    dataset: str
    file_path: str
    batch_id: int | None
    regency: str | None
    rule: str
    severity: str
    column: str | None = None
    unexpected_count: int | None = None
    examples: list[str] = field(default_factory=list)
    detail: str = ""


@dataclass
class Section:
    """A cross-check section: its rows, or why it is not available."""

    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    total: int = 0
    summary: list[tuple[str, int]] = field(default_factory=list)
    unavailable: str | None = None


def exists(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()[0]


def regency_names(conn: psycopg.Connection) -> dict[str, str]:
    """Regency names from marts.dim_region, else from the latest landed region master."""
    names: dict[str, str] = {}
    for code, name in conn.execute(
        """
        select distinct on (r.code_10) r.code_10, r.name
        from raw.kemendagri_regencies as r
        inner join audit.load_batches as b on r._batch_id = b.batch_id
        where b.status <> 'rejected' and r.code_10 is not null
        order by r.code_10, b.partition_key desc, b.batch_id desc
        """
    ):
        names[code.strip()] = " ".join((name or "").split())
    if exists(conn, "marts.dim_region"):
        names.update(conn.execute(
            "select regency_code, regency_name from marts.dim_region "
            "where region_level = 'regency'").fetchall())
    return names


def batches(conn: psycopg.Connection, since: datetime | None = None) -> list[BatchSummary]:
    """The latest batch of every landed file (a file corrected and landed again shows its
    latest version), received since ``since`` when given."""
    rows = conn.execute(
        """
        select distinct on (source, dataset, partition_key, file_path)
            batch_id, source, dataset, partition_key, file_path, status, status_reason,
            coalesce(rows_received, 0), coalesce(rows_loaded, 0),
            coalesce(rows_quarantined, 0), received_at
        from audit.load_batches
        where %(since)s::timestamptz is null or received_at >= %(since)s::timestamptz
        order by source, dataset, partition_key, file_path, batch_id desc
        """,
        {"since": since},
    ).fetchall()
    found = [BatchSummary(*r, regency=batch_regency(r[1], r[3], r[4])) for r in rows]
    return sorted(found, key=lambda b: (b.source, b.file_path, b.batch_id))


def quarantined_rows(conn: psycopg.Connection, scope: list[BatchSummary]) -> list[QuarantinedRow]:
    """Every quarantined row of the batches in scope, as received, with its regency."""
    by_id = {b.batch_id: b for b in scope}
    rows: list[QuarantinedRow] = []
    with conn.cursor(name="lumbung_report_quarantine") as cur:  # server-side: flat memory
        cur.execute(
            "select batch_id, row_number, reason, column_name, value, raw_record "
            "from audit.quarantine where batch_id = any(%s) order by batch_id, row_number",
            (list(by_id),),
        )
        for batch_id, number, reason, column, value, raw in cur:
            b = by_id[batch_id]
            rows.append(QuarantinedRow(
                batch_id, b.source, b.dataset, b.file_path, number, reason, column, value, raw,
                quarantined_row_regency(b.source, b.partition_key, b.file_path, raw)))
    return rows


def _examples(value: object) -> list[str]:
    items = value if isinstance(value, list) else json.loads(value or "[]")
    return [i if isinstance(i, str) else json.dumps(i, ensure_ascii=False) for i in items]


# The failed expectations of the latest validation of each batch or mart ({key}).
_LATEST_FAILURES = """
with latest as (
    select distinct on ({key}) dq_run_id, {key}
    from audit.dq_runs
    where layer = %(layer)s and {scope}
    order by {key}, checked_at desc, dq_run_id desc
)
select latest.{key}, r.rule, r.severity, r.column_name, r.unexpected_count,
       r.examples, r.observed_value
from audit.dq_results as r
inner join latest on r.dq_run_id = latest.dq_run_id
where not r.success
order by latest.{key}, r.severity, r.rule
"""


def _latest_failures(conn: psycopg.Connection, key: str, scope: str,
                     params: dict[str, object]) -> list[tuple]:
    query = _LATEST_FAILURES.format(key=key, scope=scope)
    return conn.execute(query, params).fetchall()


def rule_failures(conn: psycopg.Connection,
                  scope: list[BatchSummary]) -> dict[int, list[FailedCheck]]:
    """Failed expectations of each batch's latest validation, when recorded (audit.dq_*)."""
    if not exists(conn, "audit.dq_results"):
        return {}
    by_id = {b.batch_id: b for b in scope}
    found: dict[int, list[FailedCheck]] = {}
    for batch_id, rule, severity, column, unexpected, examples, observed in _latest_failures(
            conn, "batch_id", "batch_id = any(%(ids)s)", {"layer": "batch", "ids": list(by_id)}):
        b = by_id[batch_id]
        found.setdefault(batch_id, []).append(FailedCheck(
            b.source, b.dataset, b.file_path, batch_id, b.regency, rule, severity, column,
            unexpected, _examples(examples), observed or ""))
    return found


def mart_rule_failures(conn: psycopg.Connection, since: datetime | None) -> list[FailedCheck]:
    """Failed expectations of each mart's latest validation, when recorded."""
    if not exists(conn, "audit.dq_results"):
        return []
    rows = _latest_failures(
        conn, "dataset", "(%(since)s::timestamptz is null or checked_at >= %(since)s::timestamptz)",
        {"layer": "mart", "since": since})
    return [FailedCheck("marts", dataset, f"marts.{dataset}", None, None, rule, severity,
                        column, unexpected, _examples(examples), observed or "")
            for dataset, rule, severity, column, unexpected, examples, observed in rows]


def failed_checks(conn: psycopg.Connection, scope: list[BatchSummary],
                  since: datetime | None = None) -> list[FailedCheck]:
    """Rejected files, gate failures (rule by rule when recorded, else the gate's verdict)
    and failed mart validations."""
    rules = rule_failures(conn, scope)
    checks: list[FailedCheck] = []
    for b in scope:
        if b.status == "rejected":
            checks.append(FailedCheck(b.source, b.dataset, b.file_path, b.batch_id, b.regency,
                                      "file rejected at landing", "critical",
                                      detail=b.reason or ""))
        elif b.batch_id in rules:
            checks.extend(rules[b.batch_id])
        elif b.status == "failed":
            checks.append(FailedCheck(b.source, b.dataset, b.file_path, b.batch_id, b.regency,
                                      "quality gate", "critical", detail=b.reason or ""))
    return checks + mart_rule_failures(conn, since)


@dataclass
class TrendDay:
    day: str
    source: str
    files: int
    received: int
    quarantined: int
    rejected: int
    failed: int


def landing_trend(conn: psycopg.Connection, days: int = TREND_DAYS) -> list[TrendDay]:
    """Per landing day and source, over the whole history of audit.load_batches."""
    rows = conn.execute(
        """
        with days as (
            select distinct received_at::date as day from audit.load_batches
            order by 1 desc limit %s
        )
        select b.received_at::date::text, b.source, count(*),
               coalesce(sum(b.rows_received), 0), coalesce(sum(b.rows_quarantined), 0),
               count(*) filter (where b.status = 'rejected'),
               count(*) filter (where b.status = 'failed')
        from audit.load_batches as b
        inner join days on b.received_at::date = days.day
        group by 1, 2 order by 1, 2
        """,
        (days,),
    ).fetchall()
    return [TrendDay(*r) for r in rows]


def check_trend(conn: psycopg.Connection, days: int = TREND_DAYS) -> list[tuple]:
    """Per day: validations run, passed, critical failures and warnings (when recorded)."""
    if not exists(conn, "audit.dq_runs"):
        return []
    return conn.execute(
        """
        select checked_at::date::text, count(*), count(*) filter (where passed),
               coalesce(sum(critical_failures), 0), coalesce(sum(warnings), 0)
        from audit.dq_runs
        group by 1 order by 1 desc limit %s
        """,
        (days,),
    ).fetchall()[::-1]


# --- cross-checks read from the marts (built on other branches: adjust names here) ----------


def _mart_section(
    conn: psycopg.Connection, title: str, table: str, query: str,
    summary_query: str | None = None, schema: str = "marts",
) -> Section:
    qualified = f"{schema}.{table}"
    if not exists(conn, qualified):
        return Section(title, unavailable=f"not available: {qualified} has not been built "
                                          "and published in this warehouse")
    params = {"limit": MART_ROWS_SHOWN}
    try:
        with conn.transaction():
            q = sql.SQL(query).format(mart=sql.Identifier(schema, table))
            with conn.cursor() as cur:
                cur.execute(q, params)
                columns = [d.name for d in cur.description]
                rows = cur.fetchall()
            # "limit null" is no limit: the same query counts every row
            total = conn.execute(sql.SQL("select count(*) from ({}) as q").format(q),
                                 {"limit": None}).fetchone()[0]
            summary = []
            if summary_query:
                summary = conn.execute(
                    sql.SQL(summary_query).format(mart=sql.Identifier(schema, table))
                ).fetchall()
    except psycopg.errors.Error as err:  # a mart whose columns differ from what is read here
        log.warning("report section %s: %s", title, err)
        return Section(title, unavailable=f"not available: {qualified} cannot be read as "
                                          f"expected ({str(err).splitlines()[0]})")
    return Section(title, columns, rows, total, [(str(k), int(v)) for k, v in summary])


def idm_inconsistencies(conn: psycopg.Connection, schema: str = "marts") -> Section:
    """Village-years whose published IDM disagrees with its own indicator scores."""
    return _mart_section(
        conn, "IDM inconsistencies", "mart_idm",
        """
        select regency_code, village_code, year, disagreeing_components,
               idm_published, idm_recomputed, status_published, status_recomputed
        from {mart}
        where consistency = 'inconsistent'
        order by regency_code, village_code, year
        limit %(limit)s
        """,
        "select consistency, count(*) from {mart} group by 1 order by 1",
        schema,
    )


# Each identity: (name, stated, computed from its parts); an amount differing by more than
# a rupiah breaks it. The in-row identities are tested by dbt too; the budget balance and
# the SiLPA carried over from the previous year are what source data really breaks.
_FINANCE_IDENTITIES = """
        select f.regency_code, f.village_code, f.year, i.identity,
               i.stated, i.computed, i.stated - i.computed as difference
        from {mart} as f
        left join {mart} as prev
            on prev.village_code = f.village_code and prev.year = f.year - 1
        cross join lateral (values
            ('surplus/deficit = revenue - spending (budget)',
             f.surplus_deficit_budget, f.revenue_budget - f.spending_budget),
            ('surplus/deficit = revenue - spending (realised)',
             f.surplus_deficit_realised, f.revenue_realised - f.spending_realised),
            ('net financing = receipts - expenditure (budget)',
             f.net_financing_budget,
             f.financing_receipts_budget - f.financing_expenditure_budget),
            ('net financing = receipts - expenditure (realised)',
             f.net_financing_realised,
             f.financing_receipts_realised - f.financing_expenditure_realised),
            ('SiLPA = surplus/deficit + net financing (realised)',
             f.silpa_realised, f.surplus_deficit_realised + f.net_financing_realised),
            ('budget balanced: SiLPA budget = 0', f.silpa_budget, 0),
            ('SiLPA received = previous year''s SiLPA realised',
             f.silpa_previous_year_realised, prev.silpa_realised)
        ) as i (identity, stated, computed)
        where i.computed is not null and abs(coalesce(i.stated, 0) - i.computed) > 1
        order by f.regency_code, f.village_code, f.year, i.identity
        limit %(limit)s
"""


def apbdes_identity_breaks(conn: psycopg.Connection, schema: str = "marts") -> Section:
    """Desa-years whose APBDes figures break an accounting identity."""
    return _mart_section(
        conn, "APBDes identity breaks", "mart_village_finance", _FINANCE_IDENTITIES,
        "select year::text, count(*) from {mart} group by 1 order by 1", schema,
    )


def cross_source_discrepancies(conn: psycopg.Connection, schema: str = "marts") -> Section:
    """BUMDes-reported contribution to PADes against APBDes 4.1.1 realised, per regency."""
    return _mart_section(
        conn, "Cross-source discrepancies: BUMDes reports vs APBDes 4.1.1",
        "mart_bumdes_regency",
        """
        select regency_code, regency_name, year, desa_compared_count,
               compared_pades_contribution_reported, compared_apbdes_4_1_1_realised,
               compared_pades_difference, desa_with_pades_discrepancy_count
        from {mart}
        where desa_with_pades_discrepancy_count > 0 or is_pades_discrepancy
        order by regency_code, year
        limit %(limit)s
        """,
        "select year::text, sum(desa_with_pades_discrepancy_count) from {mart} "
        "group by 1 order by 1",
        schema,
    )
