"""Reading XLSX exports and reports with openpyxl, streaming, as text.

Reports often carry title rows above the table ("LAPORAN ...", "Periode: ..."): the header is
the first row naming every required column, and each record keeps its spreadsheet row number
so a person can find it. A file that is not a readable workbook (truncated, corrupt, another
format renamed) is rejected as a whole, and so is a sheet whose table does not start at its
header (data rows above it: the sheet was sorted with its header, or pasted over).

Many government systems "export to Excel" by writing an HTML table under an ``.xls`` or
``.xlsx`` name: ``workbook_format`` tells from the first bytes what a file really is, such a
file is read as the table it is (``html_rows``, streamed, with a landing note naming the real
format), and any other format under a spreadsheet name is rejected naming what it is. A real
workbook's archive directory is checked against the archive limits before it is opened.
"""

from __future__ import annotations

import codecs
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, datetime, time
from html.parser import HTMLParser
from pathlib import Path
from xml.etree.ElementTree import ParseError

from lumbung.config import Limits, limits
from lumbung.landing import BatchRejected, Record, note
from lumbung.sources import archive, encoding
from lumbung.sources.tabular import Layout, as_text, read_delimited

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


XLSX, HTML = "xlsx", "html"


def workbook_format(path: Path) -> str:
    """``XLSX`` or ``HTML`` (a table saved under a spreadsheet name), from the file's first
    bytes; BatchRejected naming what the file is when it is neither."""
    with path.open("rb") as fh:
        head = fh.read(encoding.SAMPLE)
    if not head:
        raise BatchRejected("empty file: no header and no rows")
    if head.startswith(b"PK"):
        return XLSX
    what = encoding.binary_format(head)
    if what:
        raise BatchRejected(f"{what}, not an XLSX workbook: save it as .xlsx (Excel Workbook)")
    try:
        found = encoding.detect(head)
    except encoding.NotText as err:
        raise BatchRejected(f"not an XLSX workbook: {err}") from None
    start = head[len(found.bom):].decode(found.codec, "replace").lstrip().lower()
    if start.startswith(("<!doctype html", "<html", "<table", "<meta", "<head", "<body")) or (
        start.startswith("<") and "<table" in start
    ):
        if "urn:schemas-microsoft-com:office:spreadsheet" in start and "<table" not in start:
            raise BatchRejected("an Excel 2003 XML spreadsheet, not an XLSX workbook: save it "
                                "as .xlsx (Excel Workbook)")
        return HTML
    if start.startswith("<?xml"):
        raise BatchRejected("an XML document, not an XLSX workbook: save it as .xlsx "
                            "(Excel Workbook)")
    raise BatchRejected(f"{found.name} text (a CSV file?), not an XLSX workbook: send it "
                        "with a .csv name, or save it as .xlsx (Excel Workbook)")


class _Table(HTMLParser):
    """Rows of the tables of an HTML page, in document order, as lists of cell texts."""

    def __init__(self, limit: int) -> None:
        super().__init__(convert_charrefs=True)
        self.limit = limit
        self.rows: list[list[str | None]] = []
        self.row: list[str | None] | None = None
        self.cell: list[str] | None = None
        self.cell_size = 0
        self.span = 1

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "tr":
            self._end_row()
            self.row = []
        elif tag in ("td", "th"):
            self._end_cell()
            if self.row is None:
                self.row = []
            self.cell, self.cell_size = [], 0
            span = dict(attrs).get("colspan") or "1"
            self.span = int(span) if span.isdigit() and 0 < int(span) <= 1000 else 1
        elif tag == "br" and self.cell is not None:
            self.cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._end_cell()
        elif tag in ("tr", "table"):
            self._end_row()

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell_size += len(data)
            if self.cell_size > self.limit:
                raise BatchRejected(f"an HTML table cell is over the limit of one field "
                                    f"({Limits.ENV['field_chars']}={self.limit})")
            self.cell.append(data)

    def _end_cell(self) -> None:
        if self.cell is not None and self.row is not None:
            text = " ".join("".join(self.cell).split())
            self.row.append(text or None)
            self.row.extend([None] * (self.span - 1))
        self.cell = None

    def _end_row(self) -> None:
        self._end_cell()
        if self.row is not None:
            self.rows.append(self.row)
        self.row = None


def html_rows(path: Path) -> Iterator[tuple]:
    """The rows of an HTML table file, streamed, like openpyxl's ``values_only`` rows."""
    with path.open("rb") as fh:
        found = encoding.detect(fh.read(encoding.SAMPLE))
        fh.seek(len(found.bom))
        decoder = codecs.getincrementaldecoder(found.codec)(encoding.errors_of(found))
        parser = _Table(limits().field_chars)
        while data := fh.read(1 << 16):
            parser.feed(decoder.decode(data))
            yield from (tuple(r) for r in parser.rows)
            parser.rows.clear()
        parser.feed(decoder.decode(b"", final=True))
        parser.close()
        parser._end_row()
        yield from (tuple(r) for r in parser.rows)


def check_cells(rows: Iterator[tuple], limit: int | None = None) -> Iterator[tuple]:
    """Rows whose text cells are within the field limit; a longer one rejects the file."""
    limit = limit if limit is not None else limits().field_chars
    for cells in rows:
        for c in cells:
            if isinstance(c, str) and len(c) > limit:
                raise BatchRejected(f"a cell is over the limit of one field "
                                    f"({Limits.ENV['field_chars']}={limit})")
        yield cells


class Sheet:
    """The rows of one sheet of a workbook, or of an HTML table saved as one, and how to
    close what they are read from."""

    def __init__(self, title: str, rows: Iterator[tuple], close: Callable[[], None],
                 names: list[str]) -> None:
        self.title, self.rows, self.close, self.names = title, rows, close, names


def open_sheet(path: Path, sheet: str | None = None) -> Sheet:
    """One sheet (the first if ``sheet`` is None) of an XLSX workbook or HTML table file."""
    if workbook_format(path) == HTML:
        note(f"{encoding.shown(path.name)} is an HTML table saved under a spreadsheet name; "
             "read as that table")
        if sheet is not None:
            raise BatchRejected(f"an HTML table has no sheet named {sheet!r}: save the "
                                "workbook as .xlsx")
        return Sheet("HTML table", check_cells(html_rows(path)), lambda: None, ["HTML table"])
    workbook = _open(path)
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise BatchRejected(f"no sheet named {sheet!r} (sheets: "
                                f"{', '.join(workbook.sheetnames)})")
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        worksheet.reset_dimensions()  # some writers store a wrong used range; read every row
        rows = worksheet.iter_rows(min_row=1, values_only=True)
    except BaseException:
        workbook.close()
        raise
    return Sheet(worksheet.title, check_cells(rows), workbook.close, list(workbook.sheetnames))


def _open(path: Path):
    from openpyxl import load_workbook

    with archive.open_zip(path, "the workbook", "not a readable XLSX workbook"):
        pass  # its directory is within the archive limits
    try:
        return load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # zipfile, XML and openpyxl's own InvalidFileException errors
        raise BatchRejected(f"not a readable XLSX workbook ({type(err).__name__}: "
                            f"{encoding.shown(str(err))})") from err


def sheet_names(path: Path) -> list[str]:
    sheet = open_sheet(path)
    sheet.close()
    return sheet.names


def read_sheet(
    path: Path, layout: Layout, sheet: str | None = None
) -> tuple[list[str], Iterator[Record]]:
    """The raw column names and records of one sheet (the first one if ``sheet`` is None).

    The records are read lazily; the workbook stays open until they are consumed.
    """
    opened = open_sheet(path, sheet)
    try:
        header_row, header = _find_header(opened.rows, layout, opened.title)
    except BatchRejected:
        opened.close()
        raise
    except _BROKEN as err:
        opened.close()
        raise BatchRejected(f"unreadable XLSX sheet ({type(err).__name__}: {err})") from err
    except BaseException:
        opened.close()
        raise
    return header, _records(opened.close, opened.rows, header, header_row, opened.title)


def read_export(path: Path, layout: Layout) -> tuple[list[str], Iterator[Record]]:
    """The raw column names and records of an export sent as CSV or XLSX: the first sheet of
    an ``.xlsx``, else the delimited text."""
    if path.suffix.lower() == ".xlsx":
        return read_sheet(path, layout)
    return read_delimited(path, layout)


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
    close: Callable[[], None], rows: Iterator[tuple], header: list[str], header_row: int,
    title: str,
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
    except BatchRejected:
        raise
    except _BROKEN as err:
        raise BatchRejected(
            f"sheet {title!r}: unreadable after row {header_row} ({type(err).__name__}: {err})"
        ) from err
    finally:
        close()
