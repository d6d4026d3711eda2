"""Reading XLSX exports and reports with openpyxl, streaming, as text.

Reports often carry title rows above the table ("LAPORAN ...", "Periode: ..."): the header is
the first row naming every required column, and each record keeps its spreadsheet row number
so a person can find it. A file that is not a readable workbook (truncated, corrupt, another
format renamed) is rejected as a whole, and so is a sheet whose table does not start at its
header (data rows above it: the sheet was sorted with its header, or pasted over).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from xml.etree.ElementTree import ParseError

from lumbung.landing import BatchRejected, Record
from lumbung.sources.tabular import Layout, as_text

HEADER_SCAN_ROWS = 30  # title blocks above a report's table are a few rows, never pages
_BROKEN = (zipfile.BadZipFile, zipfile.LargeZipFile, ParseError, KeyError, OSError, EOFError,
           ValueError, TypeError)


def cell_text(value: object) -> str | None:
    """A cell as text: numbers without a spurious '.0', dates and times in ISO form."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


def _open(path: Path):
    from openpyxl import load_workbook

    try:
        return load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # zipfile, XML and openpyxl's own InvalidFileException errors
        raise BatchRejected(f"not a readable XLSX workbook ({type(err).__name__}: {err})") from err


def sheet_names(path: Path) -> list[str]:
    workbook = _open(path)
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def read_sheet(
    path: Path, layout: Layout, sheet: str | None = None
) -> tuple[list[str], Iterator[Record]]:
    """The raw column names and records of one sheet (the first one if ``sheet`` is None).

    The records are read lazily; the workbook stays open until they are consumed.
    """
    workbook = _open(path)
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise BatchRejected(f"no sheet named {sheet!r} (sheets: "
                                f"{', '.join(workbook.sheetnames)})")
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        worksheet.reset_dimensions()  # some writers store a wrong used range; read every row
        rows = worksheet.iter_rows(min_row=1, values_only=True)
        header_row, header = _find_header(rows, layout, worksheet.title)
    except BatchRejected:
        workbook.close()
        raise
    except _BROKEN as err:
        workbook.close()
        raise BatchRejected(f"unreadable XLSX sheet ({type(err).__name__}: {err})") from err
    except BaseException:
        workbook.close()
        raise
    return header, _records(workbook, rows, header, header_row, worksheet.title)


def _find_header(rows: Iterator[tuple], layout: Layout, title: str) -> tuple[int, list[str]]:
    above_with_data: int | None = None
    for number, cells in enumerate(rows, start=1):
        if layout.is_header(cells):
            if above_with_data is not None:
                raise BatchRejected(
                    f"sheet {title!r}: row {above_with_data} above the header (row {number}) "
                    "holds data: the table does not start at its header"
                )
            return number, layout.header([cell_text(c) for c in cells])
        filled = sum(1 for c in cells if cell_text(c) is not None)
        if filled > 2 and above_with_data is None:
            above_with_data = number  # a title block has one or two cells per row
        if number >= HEADER_SCAN_ROWS:
            break
    labels = ", ".join(c.label for c in layout.columns if c.required)
    raise BatchRejected(
        f"sheet {title!r}: no header row naming {labels} in its first {HEADER_SCAN_ROWS} rows"
    )


def _records(
    workbook, rows: Iterator[tuple], header: list[str], header_row: int, title: str
) -> Iterator[Record]:
    width = len(header)
    try:
        for number, cells in enumerate(rows, start=header_row + 1):
            values = [cell_text(c) for c in cells]
            if not any(v is not None for v in values):
                continue  # an empty row is no record
            inside = (values + [None] * width)[:width]
            if any(v is not None for v in values[width:]):
                yield Record(number, None, as_text(values),
                             f"value outside the header's {width} columns")
                continue
            yield Record(number, inside)
    except _BROKEN as err:
        raise BatchRejected(
            f"sheet {title!r}: unreadable after row {header_row} ({type(err).__name__}: {err})"
        ) from err
    finally:
        workbook.close()
