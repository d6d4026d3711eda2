"""Everything one report shows, gathered once and shared by the HTML page and the workbooks."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from lumbung.reports import queries
from lumbung.reports.queries import BatchSummary, FailedCheck, QuarantinedRow, Section, TrendDay

PROVINCE = "18"  # problems of no single regency (province-wide files, codes of no regency)
PROVINCE_NAME = "Provinsi Lampung"


@dataclass
class ReportData:
    generated_at: datetime
    since: datetime | None
    names: dict[str, str]
    batches: list[BatchSummary]
    quarantined: list[QuarantinedRow]
    checks: list[FailedCheck]
    trend: list[TrendDay]
    check_trend: list[tuple]
    sections: list[Section] = field(default_factory=list)
    docs_index: str | None = None

    def regency_label(self, code: str | None) -> str:
        if code is None or code == PROVINCE:
            return f"{PROVINCE} {PROVINCE_NAME} (province-wide / regency not identified)"
        return f"{code} {self.names.get(code, '(name unknown)')}"

    def problem_regencies(self) -> list[str]:
        """Regencies (and the province bucket, ``18``) that have anything to fix."""
        found = {r.regency or PROVINCE for r in self.quarantined}
        found |= {c.regency or PROVINCE for c in self.checks if c.batch_id is not None}
        return sorted(found)

    def rows_of(self, regency: str) -> list[QuarantinedRow]:
        return [r for r in self.quarantined if (r.regency or PROVINCE) == regency]

    def checks_of(self, regency: str) -> list[FailedCheck]:
        return [c for c in self.checks
                if c.batch_id is not None and (c.regency or PROVINCE) == regency]

    def files_of(self, regency: str) -> list[BatchSummary]:
        """The files a regency's people must look at: its own, and any with its rows."""
        ids = {r.batch_id for r in self.rows_of(regency)}
        ids |= {c.batch_id for c in self.checks_of(regency)}
        return [b for b in self.batches if b.batch_id in ids]

    def accounting(self) -> list[tuple]:
        """Per source and file regency: files, received, loaded, quarantined, rejected and
        gate-failed files (rows of province-wide files count under the province)."""
        totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 6)
        for b in self.batches:
            t = totals[(b.source, b.regency or PROVINCE)]
            t[0] += 1
            t[1] += b.received
            t[2] += b.loaded
            t[3] += b.quarantined
            t[4] += b.status == "rejected"
            t[5] += b.status == "failed"
        return [(s, r, *v) for (s, r), v in sorted(totals.items())]

    def problems_by_regency(self) -> list[tuple[str, str, int, int, int]]:
        """Per regency (as in the workbooks) and source: quarantined rows, rejected files,
        files stopped by the gate."""
        rows: Counter = Counter((r.regency or PROVINCE, r.source) for r in self.quarantined)
        rejected: Counter = Counter()
        failed: Counter = Counter()
        for b in self.batches:
            key = (b.regency or PROVINCE, b.source)
            if b.status == "rejected":
                rejected[key] += 1
            elif b.status == "failed":
                failed[key] += 1
        keys = sorted(set(rows) | set(rejected) | set(failed))
        return [(reg, src, rows[(reg, src)], rejected[(reg, src)], failed[(reg, src)])
                for reg, src in keys]


def collect(conn: psycopg.Connection, since: datetime | None = None,
            docs_index: str | None = None) -> ReportData:
    scope = queries.batches(conn, since)
    return ReportData(
        generated_at=datetime.now(UTC),
        since=since,
        names=queries.regency_names(conn),
        batches=scope,
        quarantined=queries.quarantined_rows(conn, scope),
        checks=queries.failed_checks(conn, scope, since),
        trend=queries.landing_trend(conn),
        check_trend=queries.check_trend(conn),
        sections=[queries.idm_inconsistencies(conn), queries.apbdes_identity_breaks(conn),
                  queries.cross_source_discrepancies(conn)],
        docs_index=docs_index,
    )
