"""Writing generated files the way their real producers do: CSV from form tools and Excel in
an Indonesian locale (';' separated), XLSX reports with title rows above the table.

Each writer returns, per data row, the number the landing will report for it (the CSV line
or spreadsheet row), so defects can be recorded where the pipeline will find them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

Row = Sequence[object]


def _line(values: Row, delimiter: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerow(
        ["" if v is None else v for v in values]
    )
    return buf.getvalue()


def write_csv(
    path: Path,
    header: Row,
    rows: Sequence[Row],
    *,
    delimiter: str = ",",
    bom: bool = False,
    cp1252_rows: frozenset[int] = frozenset(),
) -> list[int]:
    """Write a CSV; rows whose index is in ``cp1252_rows`` are encoded in Windows-1252 (the
    wrong-encoding defect). Returns the line number of each row.

    A file with such rows starts with a UTF-8 byte-order mark: it declares the file UTF-8, so
    the rows are a defect. Without one, a file whose only non-ASCII text is Windows-1252 is
    a Windows-1252 file, and is read as one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    numbers = []
    with path.open("wb") as fh:
        if bom or cp1252_rows:
            fh.write("\ufeff".encode())
        fh.write(_line(header, delimiter).encode("utf-8"))
        for index, row in enumerate(rows):
            numbers.append(index + 2)  # values never hold line breaks: one line per row
            encoding = "cp1252" if index in cp1252_rows else "utf-8"
            fh.write(_line(row, delimiter).encode(encoding))
    return numbers


def write_xlsx(
    path: Path,
    sheets: Sequence[tuple[str, Sequence[Row], Row, Sequence[Row]]],
) -> list[list[int]]:
    """Write a workbook of (sheet title, title rows, header, rows) sheets, streaming.

    Returns, per sheet, the spreadsheet row number of each data row.
    """
    from openpyxl import Workbook

    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = Workbook(write_only=True)
    numbers: list[list[int]] = []
    for title, title_rows, header, rows in sheets:
        sheet = workbook.create_sheet(title=title)
        for row in title_rows:
            sheet.append(list(row))
        sheet.append(list(header))
        first = len(title_rows) + 2
        for row in rows:
            sheet.append(list(row))
        numbers.append([first + i for i in range(len(rows))])
    workbook.save(path)
    return numbers


def truncate(path: Path, keep: float = 0.6) -> None:
    """Cut a file short, as an interrupted upload or copy leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
