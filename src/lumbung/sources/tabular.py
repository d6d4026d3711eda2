"""Building blocks for readers of tabular exports (form tools, spreadsheets, report templates).

Such files name their columns with human labels ("Kode Desa", "Jumlah rapat BPD"); a
``Layout`` maps each label onto a raw column name, so raw tables get plain identifiers while
every value stays text exactly as received. ``checked`` then screens each record with
per-column checks and quarantines the ones that cannot be used (blank required field,
unknown village code, non-numeric amount, duplicate row), naming the column and value.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from lumbung.landing import (
    BatchRejected,
    DatasetSpec,
    Part,
    Record,
    Rows,
    csv_records,
    header_line,
    header_problems,
    open_text,
    text_problem,
)
from lumbung.sources import encoding

# Kemendagri regency codes of Lampung (province 18): 13 kabupaten and 2 kota.
LAMPUNG_REGENCIES = frozenset(
    {f"18{n:02d}" for n in range(1, 14)} | {"1871", "1872"}
)
# ASCII digits only, as SQL's [0-9]: a fullwidth or Arabic-Indic digit is no digit of a code
# or an amount (Python's \d would take it; staging would then read null).
_VILLAGE = re.compile(r"^(\d{2})\.?(\d{2})\.?(\d{2})\.?([12]\d{3})$", re.ASCII)
_DISTRICT = re.compile(r"^(\d{2})\.?(\d{2})\.?(\d{2})$", re.ASCII)
# Python's whitespace (str.isspace, what strip() and \s remove: no-break spaces U+00A0 and
# U+202F come in spreadsheet amounts) as a Postgres bracket expression; Postgres' own \s is
# ASCII only. The dbt macro parse_id_number spells the same class.
SQL_SPACE = r"[\s\u001c-\u001f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
# The same village codes for the gate's rules (a Postgres regex): what village_code accepts.
VILLAGE_CODE_SQL = (
    f"^{SQL_SPACE}*18\\.?(?:" + "|".join(sorted(r[2:] for r in LAMPUNG_REGENCIES))
    + f")\\.?[0-9]{{2}}\\.?[12][0-9]{{3}}{SQL_SPACE}*$"
)


@dataclass(frozen=True)
class Column:
    """One column of an export: its label in the file and its name in the raw table."""

    label: str
    name: str
    required: bool = True


@dataclass(frozen=True)
class Layout:
    """The columns of one kind of export and the raw table they land in."""

    spec: DatasetSpec
    columns: tuple[Column, ...]

    @classmethod
    def of(cls, source: str, dataset: str, table: str, columns: tuple[Column, ...]) -> Layout:
        spec = DatasetSpec(
            source, dataset, "raw", table,
            required=tuple(c.name for c in columns if c.required),
            optional=tuple(c.name for c in columns if not c.required),
        )
        return cls(spec, columns)

    @property
    def names(self) -> tuple[str, ...]:
        """Raw column names in the layout's order (the raw table's)."""
        return tuple(c.name for c in self.columns)

    def by_label(self) -> dict[str, Column]:
        return {normalise_label(c.label): c for c in self.columns}

    def is_header(self, cells: Iterable[object]) -> bool:
        """Whether a row names every required column (used to find the header row)."""
        labels = {normalise_label(str(c)) for c in cells if c is not None}
        return all(normalise_label(c.label) in labels for c in self.columns if c.required)

    def header(self, cells: list[str | None]) -> list[str]:
        """Raw column names for a header row, or BatchRejected naming what does not match."""
        known = self.by_label()
        labels = [normalise_label(c or "") for c in cells]
        while labels and not labels[-1]:
            labels.pop()  # spreadsheets pad header rows with empty cells
        missing = [c.label for c in self.columns if c.required and normalise_label(c.label)
                   not in labels]
        unknown = [cells[i] or "(empty)" for i, lab in enumerate(labels) if lab not in known]
        duplicated = sorted({lab for lab in labels if lab and labels.count(lab) > 1})
        problems = header_problems(map(repr, missing), map(repr, unknown),
                                   map(repr, duplicated))
        if problems:
            raise BatchRejected(
                f"header does not match the {self.spec.source} {self.spec.dataset} layout: "
                + "; ".join(problems)
            )
        return [known[lab].name for lab in labels]


def normalise_label(label: str) -> str:
    """Header labels compare case-blind with whitespace collapsed (exports differ in both)."""
    return " ".join(label.split()).casefold()


# --- value checks: each returns None when the value is usable, else the problem ------------

Check = Callable[[str | None], str | None]


def blank(value: str | None) -> bool:
    return value is None or not value.strip()


def required(check: Check | None = None) -> Check:
    """The value must be present (and pass ``check`` if given)."""

    def run(value: str | None) -> str | None:
        if blank(value):
            return "blank required field"
        return check(value) if check else None

    return run


def optional(check: Check) -> Check:
    """A blank value is fine; a present one must pass ``check``."""

    def run(value: str | None) -> str | None:
        return None if blank(value) else check(value)

    return run


def year(expected: str, what: str = "year of its folder") -> Check:
    """The value must be ``expected`` (the year of the file's folder); else "not the
    <what> (<expected>)"."""

    def run(value: str | None) -> str | None:
        return None if (value or "").strip() == expected else f"not the {what} ({expected})"

    return run


def village_code(value: str | None) -> str | None:
    """A Kemendagri village code of Lampung, dotted or 10 digits (village part 1xxx/2xxx)."""
    match = _VILLAGE.match((value or "").strip())
    if not match or match.group(1) + match.group(2) not in LAMPUNG_REGENCIES:
        return "unknown village code (not a Lampung Kemendagri village code)"
    return None


def district_code(value: str | None) -> str | None:
    """A Kemendagri district code of Lampung, dotted or 6 digits."""
    match = _DISTRICT.match((value or "").strip())
    if not match or match.group(1) + match.group(2) not in LAMPUNG_REGENCIES:
        return "unknown district code (not a Lampung Kemendagri district code)"
    return None


def digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


# Indonesian number formats, as in the dbt macro parse_id_number (keep the two in step):
# "1.234.567,89", "1234567,89", "Rp 1.234.567", "Rp 1.234.567,-", "-1.234", "(1.234.567)" and,
# from spreadsheet cells, "1234567" or "1234567.5". A lone "1.234" reads as one thousand two
# hundred and thirty-four (a group of three digits after a dot is thousands).
_ID_GROUPED = re.compile(r"^-?\d{1,3}(\.\d{3})+(,\d+)?$", re.ASCII)
_ID_PLAIN = re.compile(r"^-?\d+(,\d+)?$", re.ASCII)
_DOT_DECIMAL = re.compile(r"^-?\d+\.\d+$", re.ASCII)


def parse_id_number(value: str | None) -> Decimal | None:
    """The number an Indonesian-formatted amount or count stands for; None if it is not one."""
    text = re.sub(r"\s+", "", value or "")
    text = re.sub(r"^(-?)rp\.?", r"\1", text, flags=re.IGNORECASE)
    text = text.removesuffix(",-")
    if text.startswith("(") and text.endswith(")"):
        text = "-" + text[1:-1]
    try:
        if _ID_GROUPED.match(text):
            return Decimal(text.replace(".", "").replace(",", "."))
        if _ID_PLAIN.match(text):
            return Decimal(text.replace(",", "."))
        if _DOT_DECIMAL.match(text):
            return Decimal(text)
    except InvalidOperation:
        return None
    return None


def amount(value: str | None) -> str | None:
    if parse_id_number(value) is None:
        return "not a number (expected an Indonesian number such as 1.234.567,00)"
    return None


def count(value: str | None) -> str | None:
    number = parse_id_number(value)
    if number is None or number < 0 or number != number.to_integral_value():
        return "not a whole number of at least 0"
    return None


def one_of(*allowed: str) -> Check:
    """A value from a closed list, compared case-blind with whitespace collapsed."""
    known = {normalise_label(a) for a in allowed}

    def run(value: str | None) -> str | None:
        if normalise_label(value or "") not in known:
            return f"not one of {', '.join(allowed)}"
        return None

    return run


def pattern(regex: str, what: str) -> Check:
    compiled = re.compile(regex)

    def run(value: str | None) -> str | None:
        return None if compiled.match((value or "").strip()) else f"not {what}"

    return run


# --- records -------------------------------------------------------------------------------


def as_text(values: list[str | None]) -> str:
    """A record as one CSV line, for the quarantine (what a person would see in the file)."""
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(["" if v is None else v for v in values])
    return buf.getvalue()


def checked(
    records: Iterable[Record],
    header: list[str],
    checks: dict[str, Check],
    key: tuple[str, ...] = (),
    row_check: Callable[[dict[str, str | None]], tuple[str, str] | None] | None = None,
) -> Iterator[Record]:
    """Records with every check applied: the first problem found quarantines the record.

    ``key`` names the columns that identify a row in the file: a second row with the same key
    is a duplicate (quarantined, pointing at the first). ``row_check`` sees the whole row and
    may return (column, problem).
    """
    position = {name: i for i, name in enumerate(header)}
    seen: dict[tuple, int] = {}
    for record in records:
        if record.values is None or record.problem:
            yield record
            continue
        values = record.values
        problem = None
        for column, check in checks.items():
            if column not in position:
                continue
            value = values[position[column]]
            found = check(value)
            if found:
                problem = (column, found, value)
                break
        if problem is None and row_check is not None:
            found_row = row_check(dict(zip(header, values, strict=True)))
            if found_row:
                column, found = found_row
                problem = (column, found, values[position[column]])
        if problem is None and key:
            identity = tuple(normalise_label(values[position[c]] or "") for c in key)
            if identity in seen:
                problem = (key[0], f"duplicate row: same {', '.join(key)} as row "
                           f"{seen[identity]}", values[position[key[0]]])
            else:
                seen[identity] = record.number
        if problem is None:
            yield record
            continue
        column, reason, value = problem
        yield Record(record.number, None, record.raw or as_text(values), reason, column, value)


def read_delimited(path: Path, layout: Layout) -> tuple[list[str], Iterator[Record]]:
    """A CSV export, comma or semicolon separated (Excel in an Indonesian locale writes ';'),
    in any recognised encoding (``sources.encoding``). Returns raw column names and the
    records (line numbers)."""
    try:
        fh = open_text(path)
    except encoding.NotText as err:
        raise BatchRejected(str(err)) from None
    try:
        first = header_line(fh)
    except BaseException:
        fh.close()
        raise
    if not first.strip():
        fh.close()
        raise BatchRejected("empty file: no header and no rows")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    header = layout.header(next(csv.reader([first], delimiter=delimiter)))

    def lines() -> Iterator[str]:
        with fh:
            yield from fh

    return header, delimited_records(lines(), header, delimiter)


def delimited_records(
    lines: Iterable[str], header: list[str], delimiter: str = ","
) -> Iterator[Record]:
    """``landing.csv_records`` for either delimiter: field count and UTF-8 checked, numbered
    by the line each record starts on; blank lines are no records."""
    if delimiter == ",":
        yield from csv_records(lines, header)
        return
    reader = Rows(lines, len(header), delimiter)
    line = 2
    for fields in reader:
        number, line = line, 2 + reader.line_num
        if not fields:
            continue
        shown = encoding.shown(as_text(fields))
        if len(fields) != len(header):
            yield Record(number, None, shown, f"expected {len(header)} fields, found {len(fields)}")
            continue
        bad = next(((i, p) for i, v in enumerate(fields) if (p := text_problem(v))), None)
        if bad is not None:
            i, problem = bad
            yield Record(number, None, shown, problem, header[i], encoding.shown(fields[i]))
            continue
        yield Record(number, fields)


def part(layout: Layout, header: list[str], records: Iterable[Record], name: str = "") -> Part:
    return Part(layout.spec, header, records, name)
