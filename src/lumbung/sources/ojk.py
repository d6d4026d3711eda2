"""OJK financial access reports (XLSX): access points and KUR credit.

Landing layout:

- ``<landing>/ojk/akses/periode=<yyyy-mm>/<name>.xlsx``: the financial access report of the
  month, two sheets: branchless-banking agents (Laku Pandai) per village and bank
  (``Agen Laku Pandai``), bank offices and ATMs per district and bank (``Kantor Bank dan
  ATM``). One batch fills both raw tables; partition key = the month.
- ``<landing>/ojk/kur/triwulan=<yyyy>-Q<n>/<name>.xlsx``: KUR (Kredit Usaha Rakyat) credit
  disbursed per district, scheme and lender in the quarter; partition key = ``yyyy-Qn``.

Reports carry title rows above each table; rows that cannot be used (an unknown village or
district code, a count or amount that is no number, no bank, a duplicate) are quarantined.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from lumbung.families.ojk import FAMILY
from lumbung.landing import DatasetSpec, Part
from lumbung.raw_tables import Gate, RawTable
from lumbung.sources import folders, spreadsheet
from lumbung.sources.folders import LandingFile, UnrecognisedFile
from lumbung.sources.tabular import (
    Column,
    Layout,
    amount,
    checked,
    count,
    district_code,
    one_of,
    required,
    village_code,
)

SOURCE = FAMILY.name
FOLDER = FAMILY.folder
ACCESS = "access_points"
KUR = "kur"

AGENTS_SHEET = "Agen Laku Pandai"
OFFICES_SHEET = "Kantor Bank dan ATM"
KUR_SHEET = "KUR per Kecamatan"

AGENT_LAYOUT = Layout.of(SOURCE, ACCESS, "ojk_agents", (
    Column("No", "no", required=False),
    Column("Kode Desa", "kode_desa"),
    Column("Nama Desa", "nama_desa", required=False),
    Column("Kecamatan", "kecamatan", required=False),
    Column("Kabupaten/Kota", "kabupaten_kota", required=False),
    Column("Nama Bank", "nama_bank"),
    Column("Jumlah Agen", "jumlah_agen"),
))
# The columns that open every table per district.
DISTRICT_COLUMNS = (
    Column("No", "no", required=False),
    Column("Kode Kecamatan", "kode_kecamatan"),
    Column("Nama Kecamatan", "nama_kecamatan", required=False),
    Column("Kabupaten/Kota", "kabupaten_kota", required=False),
)
OFFICE_LAYOUT = Layout.of(SOURCE, ACCESS, "ojk_offices", (
    *DISTRICT_COLUMNS,
    Column("Nama Bank", "nama_bank"),
    Column("Kantor Cabang", "kantor_cabang"),
    Column("Kantor Cabang Pembantu", "kantor_cabang_pembantu"),
    Column("Kantor Kas", "kantor_kas"),
    Column("ATM", "atm"),
))
KUR_LAYOUT = Layout.of(SOURCE, KUR, "ojk_kur", (
    *DISTRICT_COLUMNS,
    Column("Skema", "skema"),
    Column("Penyalur", "penyalur"),
    Column("Jumlah Debitur", "jumlah_debitur"),
    Column("Nilai Penyaluran (Rp)", "nilai_penyaluran"),
))
# The batch of an access report is named after its first table; the second one rides along.
ACCESS_SPEC: DatasetSpec = AGENT_LAYOUT.spec
KUR_SPEC: DatasetSpec = KUR_LAYOUT.spec
KUR_SCHEMES = ("Super Mikro", "Mikro", "Kecil")
# Every value as text, exactly as received. The gate views show the batch under validation
# with its partition; an access report's suite checks both of its tables.
RAW_TABLES: tuple[RawTable, ...] = (
    RawTable.of(
        AGENT_LAYOUT.spec, AGENT_LAYOUT.names,
        comment='OJK access report, sheet "Agen Laku Pandai": branchless-banking agents per '
                "village and bank (_row_number = spreadsheet row).",
        gates=(Gate("_period"),),
    ),
    RawTable.of(
        OFFICE_LAYOUT.spec, OFFICE_LAYOUT.names,
        comment='OJK access report, sheet "Kantor Bank dan ATM": bank offices and ATMs per '
                "district and bank (_row_number = spreadsheet row).",
        gates=(Gate("_period"),),
    ),
    RawTable.of(
        KUR_LAYOUT.spec, KUR_LAYOUT.names,
        comment="KUR credit disbursed in the quarter per district, scheme and lender "
                "(_row_number = spreadsheet row).",
        gates=(Gate("_quarter"),),
    ),
)

_MONTH = re.compile(r"^periode=(\d{4}-(0[1-9]|1[0-2]))$")
_QUARTER = re.compile(r"^triwulan=(\d{4}-Q[1-4])$")


def landing_file(path: Path) -> LandingFile:
    kind, folder = path.parent.parent.name, path.parent.name
    if path.suffix.lower() != ".xlsx":
        raise UnrecognisedFile(f"{path}: OJK reports are .xlsx workbooks")
    if kind == "akses" and (month := _MONTH.match(folder)):
        return LandingFile(path, ACCESS_SPEC, month.group(1))
    if kind == "kur" and (quarter := _QUARTER.match(folder)):
        return LandingFile(path, KUR_SPEC, quarter.group(1))
    raise UnrecognisedFile(f"{path}: expected ojk/akses/periode=<yyyy-mm>/ or "
                           "ojk/kur/triwulan=<yyyy>-Q<n>/")


def discover(landing: Path) -> tuple[list[LandingFile], list[str]]:
    return folders.discover(landing / FOLDER, landing_file,
                            lambda f: (f.spec.dataset, f.partition_key, f.path.name))


def _sheet(path: Path, layout: Layout, title: str, checks: dict, key: tuple[str, ...]) -> Part:
    header, records = spreadsheet.read_sheet(path, layout, title)
    return Part(layout.spec, header, checked(records, header, checks, key=key), title)


def read(path: Path, spec: DatasetSpec) -> Iterator[Part]:
    if spec.dataset == KUR:
        yield _sheet(path, KUR_LAYOUT, KUR_SHEET, {
            "kode_kecamatan": required(district_code),
            "skema": required(one_of(*KUR_SCHEMES)),
            "penyalur": required(),
            "jumlah_debitur": required(count),
            "nilai_penyaluran": required(amount),
        }, key=("kode_kecamatan", "skema", "penyalur"))
        return
    yield _sheet(path, AGENT_LAYOUT, AGENTS_SHEET, {
        "kode_desa": required(village_code),
        "nama_bank": required(),
        "jumlah_agen": required(count),
    }, key=("kode_desa", "nama_bank"))
    yield _sheet(path, OFFICE_LAYOUT, OFFICES_SHEET, {
        "kode_kecamatan": required(district_code),
        "nama_bank": required(),
        **{c: required(count) for c in ("kantor_cabang", "kantor_cabang_pembantu",
                                        "kantor_kas", "atm")},
    }, key=("kode_kecamatan", "nama_bank"))
