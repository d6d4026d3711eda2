"""APBDes (village budgets and their realisation): Siskeudes export zips and the flat template.

Landing layout: ``<landing>/apbdes/<year>/<file>`` with one file per regency and fiscal year:

- ``siskeudes_<regency>_<year>.zip``: the regency's Siskeudes export, a zip of CSV tables
  (``Ref_*``, ``Ta_*``) in Siskeudes' own column layout; each known table lands in its own raw
  table (``raw.apbdes_ta_rabrinci`` ...), all of one zip in one batch.
- ``apbdes_<regency>_<year>.csv`` or ``.xlsx``: the flat template some regencies send instead
  (Tahun, Kd_Desa, Kd_Akun, Kd_Keg, Kd_Rincian, Nilai_Anggaran, Nilai_Realisasi).
- ``..._rev<n>.<ext>``: a corrected resubmission; raw keeps every submission, staging uses
  the latest (highest revision, then latest landed) per regency and year.

The partition of a batch is ``<regency>/<year>`` (``1812/2024``). Every file also fills
``raw.apbdes_file_members``: one row per member (CSV table, sheet) with the delimiter and
byte-order mark found, so what was tolerated stays on record.

Readers stream: zip members are read as streams and spreadsheets in read-only mode, so memory
stays flat whatever the file size. Rows whose amount or date cannot be read, or that repeat
the previous row exactly, are quarantined; a file whose shape is wrong (unreadable or
truncated archive, missing table, missing or unknown column) is rejected as a whole.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import operator
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import IO, Protocol

from lumbung.families.apbdes import FAMILY
from lumbung.landing import (
    BatchRejected,
    Chunk,
    DatasetSpec,
    Part,
    Reader,
    Record,
    Rows,
    check_header,
    note,
    text_problem,
)
from lumbung.raw_tables import RawTable
from lumbung.sources import archive, encoding, folders
from lumbung.sources.apbdes_bulk import BulkTable
from lumbung.sources.encoding import Encoding
from lumbung.sources.folders import UnrecognisedFile
from lumbung.sources.tabular import parse_id_number

SOURCE = FAMILY.name
FOLDER = FAMILY.folder
SISKEUDES = "siskeudes"  # dataset of the Siskeudes export zips
FLAT = "flat"  # dataset of the flat template (CSV or XLSX)

# Indonesian thousands grouping with an optional decimal comma (1.234.567,00), ungrouped
# digits with an optional decimal comma (1234567,5), or a plain decimal point (1234567.25).
# Exactly-three-digit groups after a point read as thousands: "1.234" is 1234. The dbt macro
# apbdes_parse_amount applies the same three shapes, in the same order.
_GROUPED = r"[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?"
_COMMA = r"[0-9]+(?:,[0-9]+)?"
_POINT = r"[0-9]+\.[0-9]+"
AMOUNT = re.compile(f"-?(?:{_GROUPED}|{_COMMA}|{_POINT})")
_BLANKS = " \t\r\n"  # what staging's btrim removes around an amount
DATE = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")  # dd/mm/yyyy, as Siskeudes writes it

DELIMITERS = (",", ";", "\t")
INVENTORY_COLUMNS = ("member", "raw_table", "delimiter", "has_bom", "header")


@dataclass(frozen=True)
class Table:
    """One table of a file (a zip member or the flat template) and how its values are read."""

    name: str  # Siskeudes table name, e.g. Ta_RABRinci (member Ta_RABRinci.csv)
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    amounts: tuple[str, ...] = ()  # rupiah amounts that must not be negative
    signed: tuple[str, ...] = ()  # rupiah amounts that may be negative (budget changes)
    dates: tuple[str, ...] = ()  # dd/mm/yyyy
    needed: bool = True  # a zip without this member is rejected
    dataset: str = SISKEUDES

    @property
    def raw_table(self) -> str:
        return f"apbdes_{self.name.lower()}"

    @property
    def spec(self) -> DatasetSpec:
        return DatasetSpec(SOURCE, self.dataset, "raw", self.raw_table, self.required,
                           self.optional)

    @property
    def raw_columns(self) -> tuple[str, ...]:
        """The raw table's columns: the layout's names lower-cased, in its order."""
        return tuple(c.lower() for c in self.spec.columns)

    @property
    def member(self) -> str:
        return f"{self.name}.csv"


# The Siskeudes tables landed, in Siskeudes' column layout (as exported by Siskeudes 2.0 and
# imported by OpenSID's keuangan module). Reference tables first, then budget, revenue,
# spending and financing. Other members of an export are listed in the inventory only.
SISKEUDES_TABLES: tuple[Table, ...] = (
    Table("Ta_Pemda", ("Tahun", "Kd_Prov", "Kd_Kab", "Nama_Pemda", "Nama_Provinsi"),
          ("Ibukota", "Alamat", "Nm_Bupati", "Jbt_Bupati", "Logo", "C_Kode", "C_Pemda",
           "C_Data"), needed=False),
    Table("Ref_Kecamatan", ("Kd_Kec", "Nama_Kecamatan"), needed=False),
    Table("Ref_Desa", ("Kd_Kec", "Kd_Desa", "Nama_Desa")),
    Table("Ref_Bidang", ("Kd_Bid", "Nama_Bidang"), needed=False),
    Table("Ref_Kegiatan", ("Kd_Bid", "ID_Keg", "Nama_Kegiatan"), needed=False),
    Table("Ta_Desa", ("Tahun", "Kd_Desa"),
          ("Nm_Kades", "Jbt_Kades", "Nm_Sekdes", "NIP_Sekdes", "Jbt_Sekdes", "Nm_Kaur_Keu",
           "Jbt_Kaur_Keu", "Nm_Bendahara", "Jbt_Bendahara", "No_Perdes", "Tgl_Perdes",
           "No_Perdes_PB", "Tgl_Perdes_PB", "No_Perdes_PJ", "Tgl_Perdes_PJ", "Alamat",
           "Ibukota", "Status", "NPWP")),
    Table("Ta_Bidang", ("Tahun", "Kd_Desa", "Kd_Bid", "Nama_Bidang"), needed=False),
    Table("Ta_Kegiatan", ("Tahun", "Kd_Desa", "Kd_Bid", "Kd_Keg", "ID_Keg", "Nama_Kegiatan",
                          "Pagu", "Pagu_PAK"),
          ("Nm_PPTKD", "NIP_PPTKD", "Lokasi", "Waktu", "Keluaran", "Sumberdana"),
          amounts=("Pagu", "Pagu_PAK")),
    Table("Ta_RAB", ("Tahun", "Kd_Desa", "Kd_Keg", "Kd_Rincian", "Anggaran", "AnggaranPAK",
                     "AnggaranStlhPAK"),
          amounts=("Anggaran", "AnggaranStlhPAK"), signed=("AnggaranPAK",)),
    Table("Ta_RABRinci", ("Tahun", "Kd_Desa", "Kd_Keg", "Kd_Rincian", "Kd_SubRinci", "No_Urut",
                          "SumberDana", "Uraian", "Satuan", "JmlSatuan", "HrgSatuan",
                          "Anggaran", "JmlSatuanPAK", "HrgSatuanPAK", "AnggaranStlhPAK",
                          "AnggaranPAK"),
          ("Kode_SBU",),
          amounts=("Anggaran", "AnggaranStlhPAK"), signed=("AnggaranPAK",)),
    Table("Ta_TBP", ("Tahun", "No_Bukti", "Tgl_Bukti", "Kd_Desa", "Uraian", "Jumlah"),
          ("Nm_Penyetor", "Alamat_Penyetor", "TTD_Penyetor", "NoRek_Bank", "Nama_Bank",
           "Nm_Bendahara", "Jbt_Bendahara", "Status", "KdBayar", "Ref_Bayar"),
          amounts=("Jumlah",), dates=("Tgl_Bukti",)),
    Table("Ta_TBPRinci", ("Tahun", "No_Bukti", "Kd_Desa", "Kd_Keg", "Kd_Rincian", "RincianSD",
                          "SumberDana", "Nilai"),
          amounts=("Nilai",)),
    Table("Ta_SPP", ("Tahun", "No_SPP", "Tgl_SPP", "Jn_SPP", "Kd_Desa", "Keterangan", "Jumlah",
                     "Potongan"),
          ("Status",), amounts=("Jumlah", "Potongan"), dates=("Tgl_SPP",)),
    Table("Ta_SPPRinci", ("Tahun", "Kd_Desa", "No_SPP", "Kd_Keg", "Kd_Rincian", "Sumberdana",
                          "Nilai"),
          amounts=("Nilai",)),
    Table("Ta_SPJ", ("Tahun", "No_SPJ", "Tgl_SPJ", "Kd_Desa", "No_SPP", "Keterangan", "Jumlah",
                     "Potongan"),
          ("Status",), amounts=("Jumlah", "Potongan"), dates=("Tgl_SPJ",)),
    Table("Ta_SPJRinci", ("Tahun", "No_SPJ", "Kd_Keg", "Kd_Rincian", "Sumberdana", "Kd_Desa",
                          "No_SPP", "JmlCair", "Nilai", "Sisa"),
          ("Alamat",), amounts=("JmlCair", "Nilai", "Sisa")),
    Table("Ta_JurnalUmum", ("Tahun", "KdBuku", "Kd_Desa", "Tanggal", "JnsBukti", "NoBukti",
                            "Keterangan", "DK", "Debet", "Kredit", "Jenis", "Posted"),
          amounts=("Debet", "Kredit"), dates=("Tanggal",)),
    Table("Ta_JurnalUmumRinci", ("Tahun", "NoBukti", "Kd_Keg", "RincianSD", "NoID", "Kd_Desa",
                                 "Akun", "Kd_Rincian", "Sumberdana", "DK", "Debet", "Kredit"),
          amounts=("Debet", "Kredit")),
)

FLAT_TABLE = Table(
    "flat",
    ("Tahun", "Kd_Desa", "Kd_Akun", "Kd_Keg", "Kd_Rincian", "Nilai_Anggaran", "Nilai_Realisasi"),
    amounts=("Nilai_Anggaran", "Nilai_Realisasi"),
    dataset=FLAT,
)

INVENTORY = DatasetSpec(SOURCE, "members", "raw", "apbdes_file_members", INVENTORY_COLUMNS)
BATCH_SPECS = {
    SISKEUDES: DatasetSpec(SOURCE, SISKEUDES, "raw", "apbdes_file_members", INVENTORY_COLUMNS),
    FLAT: DatasetSpec(SOURCE, FLAT, "raw", "apbdes_file_members", INVENTORY_COLUMNS),
}
_BY_MEMBER = {t.member.lower(): t for t in SISKEUDES_TABLES}

# Raw tables: each Siskeudes table and the flat template in its column layout (names
# lower-cased), every value as text as received; one zip is one batch across all of them.
# They take millions of rows, landed only by land_file in the transaction that creates their
# batch and numbered by their line in the file, so they are bulk tables (no key, a BRIN index
# on _batch_id). The gate's views over them (one list of lines in a common shape) are in
# sql/gate_apbdes.sql.
RAW_TABLES: tuple[RawTable, ...] = (
    *(RawTable.of(t.spec, t.raw_columns, bulk=True,
                  comment=f"Siskeudes {t.name} ({t.member} of the regency export zip), every "
                          "value as text as received.")
      for t in SISKEUDES_TABLES),
    RawTable.of(FLAT_TABLE.spec, FLAT_TABLE.raw_columns, bulk=True,
                comment="APBDes flat template (CSV or XLSX): one row per village, kegiatan and "
                        "account, every value as text as received."),
    RawTable.of(INVENTORY, batch_fk=False,
                comment="Members of each landed APBDes file (zip member or sheet): the raw "
                        "table it went to, the delimiter and byte-order mark found, the header "
                        "as received."),
)


# --- checking values --------------------------------------------------------------------


def parse_amount(text: str) -> Decimal | None:
    """The rupiah amount a text holds, or None; for tools and tests. The shapes are fewer
    than other sources' (``AMOUNT``: no Rp, no parentheses), the reading the same
    (``tabular.parse_id_number``). Staging parses with the dbt macro
    ``apbdes_parse_amount``, which reads the same shapes the same way."""
    value = text.strip(_BLANKS)
    return parse_id_number(value) if AMOUNT.fullmatch(value) else None


@functools.lru_cache(maxsize=4096)  # a year has 366 dates: each is parsed once
def _valid_date(text: str) -> bool:
    found = DATE.fullmatch(text.strip(_BLANKS))
    if not found:
        return False
    day, month, year = (int(g) for g in found.groups())
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


# The shape Siskeudes writes (1.234.567,00): a row whose amounts all have it needs no closer
# look; any other row is checked value by value against AMOUNT (which may still accept it).
_CANONICAL = r"[0-9]{1,3}(?:\.[0-9]{3})*,[0-9][0-9]"
_JOIN = "\x1f"  # joins a row's amounts so that one regex match checks them all


class _Checks:
    """Per-row checks of one table's amounts and dates, by column position.

    The common case (every amount in Siskeudes' own shape) costs one regex match over the
    row's amounts joined; any other row is looked at value by value, to accept the other
    valid shapes or to say which value is wrong and why.
    """

    def __init__(self, table: Table, names: list[str]) -> None:
        def where(columns: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
            return tuple((names.index(c), c) for c in columns if c in names)

        self.amounts, self.signed, self.dates = (
            where(table.amounts), where(table.signed), where(table.dates))
        shapes = ([(i, _CANONICAL) for i, _ in self.amounts]
                  + [(i, f"-?{_CANONICAL}") for i, _ in self.signed])
        positions = [i for i, _ in shapes]
        # fast(joined amounts) is None when a row needs a closer look
        self.fast = re.compile(_JOIN.join(s for _, s in shapes)).fullmatch if shapes else None
        # one amount: the value itself; several: a tuple of them, joined for the match
        self.amounts_of = operator.itemgetter(*positions) if positions else None
        self.single = len(positions) == 1

    def dates_ok(self, fields: list[str]) -> bool:
        for i, _ in self.dates:
            if not _valid_date(fields[i]):
                return False
        return True

    def problem(self, fields: list[str]) -> tuple[str, str, str] | None:
        """(reason, column, value) of the first unreadable value of a row, if any."""
        for i, column in self.amounts:
            value = fields[i]
            if not AMOUNT.fullmatch(value.strip(_BLANKS)):
                return _amount_problem(value), column, value
            if value.lstrip(_BLANKS).startswith("-"):
                return "negative amount (only amounts >= 0 are valid here)", column, value
        for i, column in self.signed:
            value = fields[i]
            if not AMOUNT.fullmatch(value.strip(_BLANKS)):
                return _amount_problem(value), column, value
        for i, column in self.dates:
            value = fields[i]
            if not _valid_date(value):
                return "not a valid date (dd/mm/yyyy)", column, value
        return None


def _amount_problem(value: str) -> str:
    if not value.strip(_BLANKS):
        return "missing amount"
    return "not an amount (expected 1.234.567,00 or 1234567.00)"


def _as_received(fields: list[str], delimiter: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="").writerow(fields)
    return encoding.shown(buf.getvalue())


class _Rows(Protocol):
    """What checked_records reads: rows of text (an empty row is no record) and, like
    csv.reader, how many source lines have been read so far."""

    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...


def _record_maker() -> Callable[[int, list[str]], Record]:
    """A fast way to make a good Record (number and values, nothing else).

    Record is a frozen dataclass: its __init__ sets six fields through object.__setattr__,
    about a third of the per-row cost of this reader. A good record only needs its number and
    values (the other fields keep their class defaults), so it is built without __init__ when
    Record allows it; if Record ever changes shape (slots), the normal constructor is used.
    """
    new = object.__new__

    def make(number: int, values: list[str]) -> Record:
        record = new(Record)
        record.__dict__.update(number=number, values=values)
        return record

    try:
        probe = make(1, ["x"])
        if probe == Record(1, ["x"]):
            return make
    except (AttributeError, TypeError):
        pass
    return Record


_good_record = _record_maker()


def checked_records(
    rows: _Rows, header: list[str], checks: _Checks, delimiter: str = ",", first_line: int = 2,
    previous: list[str] | None = None, previous_number: int = 0,
) -> Iterator[Record]:
    """Records of the rows, numbered by source line (a quoted CSV field may span lines):
    field count, UTF-8, amounts and dates checked; a row equal to the one before it (a
    repeated export line) is quarantined. Memory stays flat: only the previous row is kept.
    ``previous`` is the row before the first one (when reading on from the bulk path), and
    ``previous_number`` the line it was on (or the line it repeats)."""
    width = len(header)
    line = first_line
    fast, amounts_of, single = checks.fast, checks.amounts_of, checks.single
    dated, good = bool(checks.dates), _good_record
    for fields in rows:
        number, line = line, first_line + rows.line_num
        if not fields:
            continue
        if len(fields) != width:
            yield Record(number, None, _as_received(fields, delimiter),
                         f"expected {width} fields, found {len(fields)}")
            continue
        if fields == previous:
            yield Record(number, None, _as_received(fields, delimiter),
                         f"duplicate of the record on line {previous_number}")
            continue
        previous, previous_number = fields, number
        joined = _JOIN.join(fields)
        if not joined.isascii() or "\x00" in joined:
            bad = next(((i, p) for i, v in enumerate(fields) if (p := text_problem(v))), None)
            if bad is not None:
                i, problem = bad
                yield Record(number, None, _as_received(fields, delimiter), problem,
                             header[i], encoding.shown(fields[i]))
                continue
        if (fast is not None and not fast(
            amounts_of(fields) if single else _JOIN.join(amounts_of(fields))
        )) or (dated and not checks.dates_ok(fields)):
            found = checks.problem(fields)
            if found is not None:
                reason, column, value = found
                yield Record(number, None, _as_received(fields, delimiter), reason, column,
                             value)
                continue
        yield good(number, fields)


def csv_part_records(
    text: Iterable[str], header: list[str], table: Table, delimiter: str
) -> Iterator[Record]:
    """Checked records of a CSV body (after its header line), numbered by file line."""
    reader = Rows(text, len(header), delimiter)
    return checked_records(reader, header, _Checks(table, header), delimiter)


# --- headers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    names: list[str]
    delimiter: str
    bom: bool
    text: str
    bulk: bool = False  # the body may be read in bulk (see _table_part)


def read_header(first_line: str, table: Table, where: str, bulk: bool = False) -> Header:
    """The header of a CSV table: delimiter detected (the one that yields the most known
    column names), BOM noted, columns checked strictly (BatchRejected names the table)."""
    bom = first_line.startswith("\ufeff")
    line = first_line.lstrip("\ufeff").rstrip("\r\n")
    if not line.strip():
        raise BatchRejected(f"{where}: empty table: no header and no rows")
    known = set(table.required) | set(table.optional)

    def score(delimiter: str) -> int:
        names = next(csv.reader([line], delimiter=delimiter))
        return sum(1 for n in names if n.strip() in known)

    delimiter = max(DELIMITERS, key=score)
    names = next(csv.reader([line], delimiter=delimiter))
    try:
        checked = check_header(names, table.spec)
    except BatchRejected as err:
        raise BatchRejected(f"{where}: {err}") from None
    return Header(checked, delimiter, bom, line, bulk and len(delimiter) == 1)


def _raw_columns(names: list[str]) -> list[str]:
    return [n.lower() for n in names]


def _inventory(rows: list[tuple[str, str, str, str, str]]) -> Part:
    records = [Record(n, [encoding.shown(v) for v in row]) for n, row in enumerate(rows, start=1)]
    # The inventory describes the file: its records are no rows of the file's data.
    return Part(INVENTORY, list(INVENTORY_COLUMNS), records, name="file members",
                file_level=True)


# --- Siskeudes zip -------------------------------------------------------------------------


def _guarded(records: Iterator[Record], where: str) -> Iterator[Record]:
    """Damage found while streaming a member (bad CRC, cut-off data) rejects the file."""
    try:
        yield from records
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
        raise BatchRejected(f"{where}: damaged archive member: {err}") from None


_HEADER_CAP = 64 * 1024  # a header line is a few hundred bytes; more is no header


def _first_line(first: bytes) -> str | None:
    """The header line as the text reader reads it, if reading bytes up to the first line
    feed gives the same line (no lone carriage return in it); else None."""
    body = first[:-1] if first.endswith(b"\n") else first
    if b"\r" in (body[:-1] if body.endswith(b"\r") else body):
        return None
    return first.decode("utf-8", errors="surrogateescape")


def _read_header(open_bytes: Callable[[], IO[bytes]], table: Table,
                 where: str) -> tuple[Header, Encoding]:
    """The header of a CSV table in whatever encoding it came (``encoding.detect``): read
    from its bytes when it is UTF-8 (the body may then go the bulk path), as text otherwise."""
    with open_bytes() as raw:
        head = raw.read(encoding.SAMPLE)
    try:
        found = encoding.detect(head)
    except encoding.NotText as err:
        raise BatchRejected(f"{where}: {err}") from None
    if not found.is_utf8:
        note(f"{where} read as {found.name} text")
    end = head.find(b"\n")
    first = head[: end + 1] if end >= 0 else head
    line = _first_line(first) if found.is_utf8 else None
    bulk = line is not None
    if line is None:  # read the header as the row-by-row reader does
        with encoding.text(open_bytes(), found) as text:
            line = text.readline(_HEADER_CAP + 1)
    if len(line) > _HEADER_CAP or (end < 0 and len(head) == encoding.SAMPLE):
        raise BatchRejected(f"{where}: the header line is longer than {_HEADER_CAP:,} "
                            "characters: not a table of this layout")
    return read_header(line, table, where, bulk=bulk), found


def _table_part(table: Table, header: Header, open_bytes: Callable[[], IO[bytes]],
                name: str, guard: Callable[[Iterator], Iterator],
                found: Encoding = encoding.UTF8) -> Part:
    """The part of one CSV table, read in bulk (``apbdes_bulk``) when it is UTF-8 and its
    header line reads the same as bytes and as text, row by row otherwise. ``open_bytes``
    opens the table's bytes from the start; ``guard`` turns damage found while reading into
    BatchRejected; ``found`` is the table's encoding."""
    names, delimiter = header.names, header.delimiter
    checks = _Checks(table, names)

    def parsed(text: Iterable[str], first_line: int, previous: list[str] | None,
               previous_number: int) -> Iterator[Record]:
        rows = Rows(text, len(names), delimiter)
        return checked_records(rows, names, checks, delimiter, first_line, previous,
                               previous_number)

    def chunks(batch_id: int) -> Iterator[Chunk]:
        with open_bytes() as body:
            body.readline()
            bulk = BulkTable(names, delimiter, tuple(i for i, _ in checks.amounts),
                             tuple(i for i, _ in checks.signed),
                             tuple(i for i, _ in checks.dates), checks.problem, parsed)
            yield from bulk.chunks(body, batch_id)

    def records() -> Iterator[Record]:
        with encoding.text(open_bytes(), found) as text:
            text.readline(_HEADER_CAP + 1)
            yield from parsed(text, 2, None, 0)

    if header.bulk and found.is_utf8:
        return Part(table.spec, _raw_columns(names), (), name=name,
                    chunks=lambda batch_id: guard(chunks(batch_id)), delimiter=delimiter)
    return Part(table.spec, _raw_columns(names), guard(records()), name=name)


def read_siskeudes_zip(path: Path, spec: DatasetSpec) -> Iterator[Part]:
    """A Siskeudes export: the inventory of its members, then one part per known table."""
    zf = archive.open_zip(path, "the Siskeudes export")
    meter = archive.Meter()
    with zf:
        members: dict[str, zipfile.ZipInfo] = {}
        others: list[str] = []
        for info in zf.infolist():
            if info.is_dir():
                continue
            base = PurePosixPath(info.filename).name
            if base.lower() in members:
                raise BatchRejected(f"table {base} appears twice in the archive")
            if base.lower() in _BY_MEMBER:
                members[base.lower()] = info
            else:
                others.append(info.filename)
        missing = [t.member for t in SISKEUDES_TABLES
                   if t.needed and t.member.lower() not in members]
        if missing:
            raise BatchRejected(
                f"Siskeudes table(s) missing from the archive: {', '.join(missing)}")
        headers: dict[str, Header] = {}
        encodings: dict[str, Encoding] = {}
        for table in SISKEUDES_TABLES:
            info = members.get(table.member.lower())
            if info is None:
                continue
            try:
                headers[table.name], encodings[table.name] = _read_header(
                    functools.partial(archive.open_member, zf, info, meter), table,
                    info.filename)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
                raise BatchRejected(f"{info.filename}: damaged archive member: {err}") from None
        inventory = [
            (members[t.member.lower()].filename, f"raw.{t.raw_table}", h.delimiter,
             "yes" if h.bom else "no", h.text)
            for t in SISKEUDES_TABLES if (h := headers.get(t.name))
        ]
        inventory += [(name, "", "", "", "") for name in sorted(others)]
        yield _inventory(inventory)
        for table in SISKEUDES_TABLES:
            header = headers.get(table.name)
            if header is None:
                continue
            info = members[table.member.lower()]
            yield _table_part(table, header,
                              functools.partial(archive.open_member, zf, info, meter),
                              info.filename, functools.partial(_guarded, where=info.filename),
                              encodings[table.name])


# --- flat template -------------------------------------------------------------------------


def read_flat_csv(path: Path, spec: DatasetSpec) -> Iterator[Part]:
    """The flat template as CSV in any recognised encoding: delimiter detected from the
    header, byte-order mark tolerated."""
    opener = functools.partial(path.open, "rb")
    header, found = _read_header(opener, FLAT_TABLE, path.name)
    yield _inventory([(path.name, f"raw.{FLAT_TABLE.raw_table}", header.delimiter,
                       "yes" if header.bom or found.bom else "no", header.text)])
    yield _table_part(FLAT_TABLE, header, opener, path.name, lambda records: records, found)


def _cell_text(value: object) -> str:
    """A spreadsheet cell as text: numbers without float noise, blanks as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value)


class _SheetRows:
    """Spreadsheet rows as text (header excluded), counting rows read like csv.reader's
    ``line_num``: an empty row is an empty list, and cells beyond the header's width that
    are empty are spreadsheet padding, not data."""

    def __init__(self, rows: Iterable[tuple], width: int) -> None:
        self.rows, self.width, self.line_num = rows, width, 0

    def __iter__(self) -> Iterator[list[str]]:
        for cells in self.rows:
            self.line_num += 1
            values = [_cell_text(c) for c in cells]
            while len(values) > self.width and values[-1] == "":
                values.pop()
            if not any(values):
                yield []
                continue
            if len(values) < self.width:
                values += [""] * (self.width - len(values))
            yield values


def read_flat_xlsx(path: Path, spec: DatasetSpec) -> Iterator[Part]:
    """The flat template as XLSX (first sheet), streamed in read-only mode, or as the HTML
    table some systems save under an .xlsx name (``spreadsheet.open_sheet``)."""
    from lumbung.sources import spreadsheet

    sheet = spreadsheet.open_sheet(path)
    try:
        rows = sheet.rows
        first = next(rows, None)
        if not first or not any(c is not None for c in first):
            raise BatchRejected(f"{sheet.title}: empty sheet: no header and no rows")
        names = [_cell_text(c) for c in first]
        while names and names[-1] == "":
            names.pop()
        try:
            header = check_header(names, FLAT_TABLE.spec)
        except BatchRejected as err:
            raise BatchRejected(f"sheet {sheet.title}: {err}") from None
        yield _inventory([(f"{path.name}:{sheet.title}", f"raw.{FLAT_TABLE.raw_table}", "", "no",
                           ",".join(header))])
        records = checked_records(_SheetRows(rows, len(header)), header,
                                  _Checks(FLAT_TABLE, header))
        yield Part(FLAT_TABLE.spec, _raw_columns(header), _guarded_xlsx(records, sheet.title),
                   name=f"{path.name}:{sheet.title}")
    finally:
        sheet.close()


def _guarded_xlsx(records: Iterator[Record], where: str) -> Iterator[Record]:
    try:
        yield from records
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError) as err:
        raise BatchRejected(f"sheet {where}: damaged workbook: {err}") from None


def read_flat(path: Path, spec: DatasetSpec) -> Iterator[Part]:
    if path.suffix.lower() == ".xlsx":
        return read_flat_xlsx(path, spec)
    return read_flat_csv(path, spec)


READERS: dict[str, Reader] = {SISKEUDES: read_siskeudes_zip, FLAT: read_flat}


# --- finding files -------------------------------------------------------------------------

_FILE = re.compile(
    r"^(?P<kind>siskeudes|apbdes)_(?P<regency>[0-9]{4})_(?P<year>[0-9]{4})"
    r"(?:_rev(?P<revision>[0-9]+))?\.(?P<ext>zip|csv|xlsx)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LandingFile:
    path: Path
    dataset: str
    regency: str  # 4 digits, e.g. 1812
    year: int
    revision: int

    @property
    def spec(self) -> DatasetSpec:
        return BATCH_SPECS[self.dataset]

    @property
    def reader(self) -> Reader:
        return READERS[self.dataset]

    @property
    def partition_key(self) -> str:
        return f"{self.regency}/{self.year}"


def landing_file(path: Path) -> LandingFile:
    """One APBDes file, named ``siskeudes_<regency>_<year>[_rev<n>].zip`` or
    ``apbdes_<regency>_<year>[_rev<n>].csv|xlsx`` inside its ``<year>`` folder."""
    found = _FILE.match(path.name)
    if not found:
        raise UnrecognisedFile(
            f"{path}: not an APBDes file name (siskeudes_<regency>_<year>[_rev<n>].zip or "
            "apbdes_<regency>_<year>[_rev<n>].csv|.xlsx)"
        )
    kind, ext = found["kind"].lower(), found["ext"].lower()
    if (kind == "siskeudes") != (ext == "zip"):
        raise UnrecognisedFile(f"{path}: Siskeudes exports are .zip, flat templates .csv/.xlsx")
    if path.parent.name != found["year"]:
        raise UnrecognisedFile(f"{path}: a {found['year']} file must be in a {found['year']} "
                               "folder")
    return LandingFile(path, SISKEUDES if kind == "siskeudes" else FLAT, found["regency"],
                       int(found["year"]), int(found["revision"] or 0))


def discover(landing: Path) -> tuple[list[LandingFile], list[str]]:
    """Files to land, in submission order (year, regency, revision), and problems with others."""
    return folders.discover(landing / FOLDER, landing_file,
                            lambda f: (f.year, f.regency, f.revision, f.path.name),
                            inside="a <year>")
