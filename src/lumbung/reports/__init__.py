"""Auditor outputs of a run: the quality report (one offline HTML page with charts) and one
XLSX workbook per regency with something to fix.

``produce`` writes them under ``<state>/reports/<UTC timestamp>/`` (``quality_report.html``,
``workbooks/<regency code> <name>.xlsx``, ``report.json``) and refreshes the copy in
``<state>/reports/latest/``. Earlier folders stay; the trend itself is read from the audit
tables, which keep every batch ever landed.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from lumbung.config import Paths, PgUrl

log = logging.getLogger(__name__)

REPORT_FILE = "quality_report.html"
WORKBOOKS_FOLDER = "workbooks"
META_FILE = "report.json"
LATEST = "latest"


@dataclass
class ReportOutput:
    folder: Path
    report: Path
    workbooks: Path
    workbook_files: dict[str, str]  # regency code -> file name
    generated_at: datetime
    latest: Path | None = None

    def describe(self) -> str:
        lines = [f"Quality report: {self.report}",
                 f"Regency workbooks ({len(self.workbook_files)}): {self.workbooks}"]
        if self.latest:
            lines.append(f"(also copied to {self.latest})")
        return "\n".join(lines)


def _new_folder(root: Path, now: datetime) -> Path:
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    folder, n = root / stamp, 1
    while folder.exists():  # two reports in the same second
        n += 1
        folder = root / f"{stamp}-{n}"
    return folder


def _refresh_latest(root: Path, folder: Path) -> Path:
    """Replace ``latest`` with a copy of ``folder`` (a copy, not a link: it opens the same
    from a file share or a zip)."""
    latest, staging = root / LATEST, root / f".{LATEST}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(folder, staging)
    shutil.rmtree(latest, ignore_errors=True)
    staging.rename(latest)
    return latest


def produce(paths: Paths, warehouse: PgUrl, out: Path | None = None,
            since: datetime | None = None) -> ReportOutput:
    """Write the report and workbooks (into ``out`` when given, else a new folder of the
    state dir plus ``latest``); ``since`` limits them to files landed from then on."""
    from lumbung.reports.model import collect
    from lumbung.reports.quality_report import render
    from lumbung.reports.workbooks import write_workbooks

    now = datetime.now(UTC)
    folder = out.resolve() if out else _new_folder(paths.reports, now)
    folder.mkdir(parents=True, exist_ok=True)
    docs = paths.gx_docs / "index.html"
    with psycopg.connect(warehouse.url()) as conn:
        data = collect(conn, since, str(docs) if docs.is_file() else None)
    workbook_files = write_workbooks(data, folder / WORKBOOKS_FOLDER)
    report = folder / REPORT_FILE
    report.write_text(render(data, folder, workbook_files), encoding="utf-8")
    (folder / META_FILE).write_text(json.dumps({
        "generated_at": data.generated_at.isoformat(),
        "since": data.since.isoformat() if data.since else None,
        "files": len(data.batches),
        "rows_quarantined": len(data.quarantined),
        "failed_checks": len(data.checks),
        "workbooks": workbook_files,
    }, indent=1) + "\n")
    output = ReportOutput(folder, report, folder / WORKBOOKS_FOLDER, workbook_files,
                          data.generated_at)
    if out is None:
        output.latest = _refresh_latest(paths.reports, folder)
    log.info("quality report %s; %d regency workbook(s)", report, len(workbook_files))
    return output


def latest_since(paths: Paths, since: datetime) -> ReportOutput | None:
    """The report in ``latest`` when it was produced at or after ``since`` (e.g. by the
    marts DAG during this run), else None."""
    meta = paths.reports / LATEST / META_FILE
    if not meta.is_file():
        return None
    info = json.loads(meta.read_text())
    generated = datetime.fromisoformat(info["generated_at"])
    if generated < since:
        return None
    folder = paths.reports / LATEST
    return ReportOutput(folder, folder / REPORT_FILE, folder / WORKBOOKS_FOLDER,
                        info.get("workbooks", {}), generated, latest=None)
