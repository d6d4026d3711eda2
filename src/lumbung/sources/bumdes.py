"""BUMDes (village-owned enterprises): the Kemendesa registry and the yearly BUMDes reports.

Landing layout:

- ``<landing>/bumdes/registry/snapshot=<yyyy-mm-dd>/<name>.json``: one page of the registry
  API per file, as the API serves it (``page``, ``per_page``, ``total``, ``data: [...]``);
  partition key = the snapshot date. Each BUMDes carries its business units (``unit_usaha``)
  as a list, kept in raw as the JSON text received.
- ``<landing>/bumdes/laporan/tahun=<year>/<name>.csv|.xlsx``: the yearly reports compiled per
  regency (capital, village capital participation, assets, turnover, profit, contribution to
  PADes, ranking class), Indonesian number formats; partition key = the report year.

Items or rows that cannot be used (no id, an unknown village code, an amount that is no
number, a duplicate) are quarantined; a page that is not valid JSON of that shape, or a
workbook that cannot be read, is rejected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from lumbung.families.bumdes import FAMILY
from lumbung.landing import BatchRejected, DatasetSpec, Part, Record
from lumbung.raw_tables import Gate, RawTable
from lumbung.sources import encoding, folders, spreadsheet, tabular
from lumbung.sources.folders import LandingFile, UnrecognisedFile
from lumbung.sources.tabular import (
    Column,
    Layout,
    amount,
    checked,
    one_of,
    optional,
    required,
    village_code,
)

SOURCE = FAMILY.name
FOLDER = FAMILY.folder
REGISTRY = "registry"
REPORTS = "annual_reports"

# Registry item fields (the API's names) -> raw columns; the envelope's paging travels along.
ITEM_FIELDS = ("id", "nama", "kode_desa", "nama_desa", "status_badan_hukum",
               "nomor_sertifikat", "tanggal_sertifikat", "tanggal_berdiri", "nomor_perdes",
               "unit_usaha")
PAGE_FIELDS = ("page", "per_page", "total")
REGISTRY_COLUMNS = (*ITEM_FIELDS, *PAGE_FIELDS)  # a record: the item, then its page's envelope
REGISTRY_SPEC = DatasetSpec(
    SOURCE, REGISTRY, "raw", "bumdes_registry",
    required=("id", "nama", "kode_desa", "tanggal_berdiri", "unit_usaha", *PAGE_FIELDS),
    optional=("nama_desa", "status_badan_hukum", "nomor_sertifikat", "tanggal_sertifikat",
              "nomor_perdes"),
)
# Registration and legal-entity status under PP 11/2021 and Permendesa 3/2021: a BUMDes is a
# legal entity once the Ministry of Law registers it ("Berbadan Hukum").
LEGAL_STATUSES = ("Belum Terdaftar", "Nama Terverifikasi", "Perbaikan Dokumen",
                  "Berbadan Hukum")
RANKING_CLASSES = ("Perintis", "Pemula", "Berkembang", "Maju")

REPORT_COLUMNS: tuple[Column, ...] = (
    Column("No", "no", required=False),
    Column("ID BUMDes", "id_bumdes"),
    Column("Nama BUMDes", "nama_bumdes"),
    Column("Kode Desa", "kode_desa"),
    Column("Nama Desa", "nama_desa", required=False),
    Column("Tahun Laporan", "tahun"),
    Column("Modal (Rp)", "modal"),
    Column("Penyertaan Modal Desa (Rp)", "penyertaan_modal_desa"),
    Column("Aset (Rp)", "aset"),
    Column("Omzet (Rp)", "omzet"),
    Column("Laba (Rp)", "laba"),
    Column("Kontribusi PADes (Rp)", "kontribusi_pades"),
    Column("Klasifikasi", "klasifikasi"),
)
REPORT_LAYOUT = Layout.of(SOURCE, REPORTS, "bumdes_annual_reports", REPORT_COLUMNS)
REPORT_SPEC = REPORT_LAYOUT.spec
AMOUNTS = ("modal", "penyertaan_modal_desa", "aset", "omzet", "laba", "kontribusi_pades")
# Every value as text, exactly as received; the gate views show the batch under validation
# with its partition.
RAW_TABLES: tuple[RawTable, ...] = (
    RawTable.of(
        REGISTRY_SPEC, REGISTRY_COLUMNS,
        comment="BUMDes registry API pages: one row per item of data[] (_row_number = its "
                "position on the page), with the page envelope (page, per_page, total).",
        column_comments={
            "unit_usaha": "The item's list of business units ({nama, jenis}) as JSON text.",
        },
        gates=(Gate("_snapshot"),),
    ),
    RawTable.of(
        REPORT_SPEC, REPORT_LAYOUT.names,
        comment="Yearly BUMDes reports compiled per regency (CSV or XLSX), amounts in "
                "Indonesian number formats as written.",
        gates=(Gate("_report_year"),),
    ),
)

_SNAPSHOT = re.compile(r"^snapshot=(\d{4}-\d{2}-\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def landing_file(path: Path) -> LandingFile:
    kind = path.parent.parent.name
    if kind == REGISTRY:
        snapshot = _SNAPSHOT.match(path.parent.name)
        if not snapshot or path.suffix.lower() != ".json":
            raise UnrecognisedFile(f"{path}: registry pages are .json files inside a "
                                   "snapshot=<yyyy-mm-dd> folder")
        return LandingFile(path, REGISTRY_SPEC, snapshot.group(1))
    if kind == "laporan":
        year = folders.YEAR_FOLDER.match(path.parent.name)
        if not year or path.suffix.lower() not in (".csv", ".xlsx"):
            raise UnrecognisedFile(f"{path}: reports are .csv or .xlsx files inside a "
                                   "tahun=<year> folder")
        return LandingFile(path, REPORT_SPEC, year.group(1))
    raise UnrecognisedFile(f"{path}: not under bumdes/registry/ or bumdes/laporan/")


def discover(landing: Path) -> tuple[list[LandingFile], list[str]]:
    """Registry pages (by snapshot, then page), then reports (by year), and problems."""
    return folders.discover(landing / FOLDER, landing_file,
                            lambda f: (f.spec.dataset != REGISTRY, f.partition_key, f.path.name))


def read(path: Path, spec: DatasetSpec) -> Iterator[Part]:
    if spec.dataset == REGISTRY:
        yield from read_registry_page(path, spec)
    else:
        yield from read_report(path, spec)


# --- registry pages ------------------------------------------------------------------------


def _text(value: object) -> str | None:
    """A JSON value as text: strings as they are, numbers as written, lists/objects as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _iso_date(value: str | None) -> str | None:
    text = (value or "").strip()
    try:
        if _ISO_DATE.match(text):
            date.fromisoformat(text)
            return None
    except ValueError:
        pass
    return "not a date (expected yyyy-mm-dd)"


def _units(value: str | None) -> str | None:
    """unit_usaha: a list of {nama, jenis} objects (an empty list is a BUMDes without units)."""
    try:
        units = json.loads(value or "")
    except ValueError:
        return "unit_usaha is not a list"
    if not isinstance(units, list):
        return "unit_usaha is not a list"
    for n, unit in enumerate(units, start=1):
        if not isinstance(unit, dict) or not all(
            isinstance(unit.get(k), str) and unit[k].strip() for k in ("nama", "jenis")
        ):
            return f"business unit {n} has no nama or no jenis"
    return None


def read_registry_page(path: Path, spec: DatasetSpec) -> Iterator[Part]:
    """One API page: its items, numbered by their position in ``data`` (1 = first)."""
    try:
        page = json.loads(encoding.decode(path.read_bytes())[0])
    except encoding.NotText as err:
        raise BatchRejected(str(err)) from None
    except ValueError as err:
        raise BatchRejected(f"not valid JSON, the page may be truncated ({err})") from err
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        raise BatchRejected("not a registry page: expected an object with a 'data' list")
    missing = [k for k in PAGE_FIELDS if k not in page]
    if missing:
        raise BatchRejected(f"page envelope lacks {', '.join(missing)}")
    unknown = sorted({k for item in page["data"] if isinstance(item, dict) for k in item}
                     - set(ITEM_FIELDS))
    if unknown:
        raise BatchRejected(f"unknown item field(s) {', '.join(unknown)} (the API changed?)")
    header = list(REGISTRY_COLUMNS)
    envelope = [_text(page[k]) for k in PAGE_FIELDS]

    def records() -> Iterator[Record]:
        for number, item in enumerate(page["data"], start=1):
            if not isinstance(item, dict):
                yield Record(number, None, _text(item) or "null", "item is not an object")
                continue
            yield Record(number, [_text(item.get(k)) for k in ITEM_FIELDS] + envelope,
                         json.dumps(item, ensure_ascii=False))

    checks = {
        "id": required(),
        "nama": required(),
        "kode_desa": required(village_code),
        "tanggal_berdiri": required(_iso_date),
        "tanggal_sertifikat": optional(_iso_date),
        "status_badan_hukum": optional(one_of(*LEGAL_STATUSES)),
        "unit_usaha": _units,
    }
    yield Part(spec, header, checked(records(), header, checks, key=("id",)))


# --- yearly reports ------------------------------------------------------------------------


def read_report(path: Path, spec: DatasetSpec) -> Iterator[Part]:
    year = folders.folder_year(path, "report files")
    header, records = spreadsheet.read_export(path, REPORT_LAYOUT)
    checks = {
        "id_bumdes": required(),
        "kode_desa": required(village_code),
        "tahun": required(tabular.year(year, "report year")),
        **{column: optional(amount) for column in AMOUNTS},
        "klasifikasi": optional(one_of(*RANKING_CLASSES)),
    }
    yield Part(spec, header, checked(records, header, checks, key=("id_bumdes", "tahun")))
