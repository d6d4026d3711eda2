"""One XLSX workbook per regency with something to fix, for the people who fix source data.

``<regency code> <name>.xlsx`` with three sheets: Summary (its files and counts), Quarantined
rows (file, row, reason, column, value and the record as received) and Failed checks
(rejected files and quality-gate rules, with severity and examples). Problems of no single
regency (province-wide files, codes of no Lampung regency) go to ``18 Provinsi Lampung.xlsx``.
Written in openpyxl's streaming mode, so a regency with many quarantined rows stays cheap.
"""

from __future__ import annotations

import re
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from lumbung.reports.model import PROVINCE, PROVINCE_NAME, ReportData

MAX_ROWS = 1_000_000  # a sheet holds 1,048,576 rows; beyond this the sheet says so
BOLD = Font(bold=True)

QUARANTINE_HEADER = ("file", "source", "dataset", "row", "reason", "column", "value",
                     "record as received", "batch")
CHECKS_HEADER = ("file", "source", "dataset", "rule", "severity", "column", "unexpected rows",
                 "examples", "detail", "batch")


def file_name(code: str, data: ReportData) -> str:
    """``1811 Kabupaten Mesuji.xlsx``: safe on every file system."""
    name = PROVINCE_NAME if code == PROVINCE else data.names.get(code, "")
    safe = re.sub(r'[\\/:*?"<>|]+', " ", f"{code} {name}").strip()
    return " ".join(safe.split()) + ".xlsx"


def _cell(ws: WriteOnlyWorksheet, value: object, bold: bool = False) -> WriteOnlyCell:
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)  # Excel refuses control characters
    cell = WriteOnlyCell(ws, value=value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # text as received, never a formula
    if bold:
        cell.font = BOLD
    return cell


def _sheet(wb: Workbook, title: str, header: tuple[str, ...], widths: tuple[int, ...]
           ) -> WriteOnlyWorksheet:
    ws = wb.create_sheet(title)
    for i, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    if header:
        ws.freeze_panes = "A2"  # the header stays in view while scrolling
        ws.append([_cell(ws, h, bold=True) for h in header])
    return ws


def write_workbook(data: ReportData, code: str, path: Path) -> None:
    wb = Workbook(write_only=True)
    rows, checks, files = data.rows_of(code), data.checks_of(code), data.files_of(code)

    summary = _sheet(wb, "Summary", (), (34, 90, 14, 12, 14, 14, 16, 60))
    for label, value in (
        ("regency", data.regency_label(code)),
        ("generated (UTC)", f"{data.generated_at:%Y-%m-%d %H:%M:%S}"),
        ("scope", f"files landed since {data.since:%Y-%m-%d %H:%M %Z}" if data.since
         else "the latest version of every file ever landed"),
        ("quarantined rows", len(rows)),
        ("files rejected", sum(c.rule == "file rejected at landing" for c in checks)),
        ("failed checks", len(checks)),
        ("", ""),
        ("what to do", "Correct each quarantined row (sheet 'Quarantined rows') and each "
                       "failed check (sheet 'Failed checks') in the source system, export the "
                       "file again and deliver it: the pipeline lands the new version."),
    ):
        summary.append([_cell(summary, label, bold=True), _cell(summary, value)])
    summary.append([])
    summary.append([_cell(summary, h, bold=True) for h in (
        "file", "source", "dataset", "status", "rows received", "rows loaded",
        "rows quarantined (all regencies)", "reason")])
    for b in files:
        summary.append([_cell(summary, v) for v in (
            b.file_path, b.source, b.dataset, b.status, b.received, b.loaded, b.quarantined,
            b.reason)])

    quarantine = _sheet(wb, "Quarantined rows", QUARANTINE_HEADER,
                        (48, 10, 14, 8, 60, 18, 24, 90, 8))
    for n, r in enumerate(rows):
        if n == MAX_ROWS:
            quarantine.append([_cell(quarantine, f"... and {len(rows) - MAX_ROWS:,} more rows: "
                                                 "see audit.quarantine")])
            break
        quarantine.append([_cell(quarantine, v) for v in (
            r.file_path, r.source, r.dataset, r.row_number, r.reason, r.column, r.value,
            r.raw_record, r.batch_id)])

    failed = _sheet(wb, "Failed checks", CHECKS_HEADER, (48, 10, 14, 36, 10, 16, 10, 60, 90, 8))
    for c in checks:
        failed.append([_cell(failed, v) for v in (
            c.file_path, c.source, c.dataset, c.rule, c.severity, c.column, c.unexpected_count,
            "\n".join(c.examples), c.detail, c.batch_id)])
    wb.save(path)


def write_workbooks(data: ReportData, folder: Path) -> dict[str, str]:
    """Write every regency's workbook; returns regency code -> file name."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for code in data.problem_regencies():
        name = file_name(code, data)
        write_workbook(data, code, folder / name)
        written[code] = name
    return written
