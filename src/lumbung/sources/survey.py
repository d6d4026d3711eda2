"""The Smart Village survey: the province's yearly self-assessment of each village.

Villages answer an online form; the form tool's export (CSV, or XLSX) is delivered per year,
often one file per regency. Landing layout: ``<landing>/survey/tahun=<year>/<name>.csv|.xlsx``,
partition key = the year. Answers are free text and stay as received in ``raw``; staging
interprets them. Rows that cannot be used at all (no timestamp, no or an unknown village
code, another year than the folder's, an exact duplicate) are quarantined here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from lumbung.families.survey import FAMILY
from lumbung.landing import DatasetSpec, Part
from lumbung.raw_tables import Gate, RawTable
from lumbung.sources import folders, spreadsheet, tabular
from lumbung.sources.folders import LandingFile, UnrecognisedFile
from lumbung.sources.tabular import (
    Column,
    Layout,
    checked,
    required,
    village_code,
)

SOURCE = FAMILY.name
FOLDER = FAMILY.folder
DATASET = "responses"
SUFFIXES = (".csv", ".xlsx")

# The form's questions, in the order of the form (labels exactly as the form tool exports).
COLUMNS: tuple[Column, ...] = (
    Column("Timestamp", "timestamp"),
    Column("Kode Desa", "kode_desa"),
    Column("Nama Desa", "nama_desa"),
    Column("Kecamatan", "kecamatan", required=False),
    Column("Kabupaten/Kota", "kabupaten_kota", required=False),
    Column("Tahun", "tahun"),
    Column("Jabatan Responden", "jabatan_responden", required=False),
    Column("Apakah desa memiliki website?", "memiliki_website"),
    Column("Alamat website desa", "alamat_website", required=False),
    Column("Sistem informasi desa yang digunakan", "sistem_informasi_desa"),
    Column("Layanan surat online", "layanan_surat_online"),
    Column("APBDes dipublikasikan (papan/online)", "apbdes_dipublikasikan"),
    Column("Jumlah rapat BPD", "jumlah_rapat_bpd"),
    Column("Jumlah Perdes", "jumlah_perdes"),
    Column("Pembayaran digital di kantor desa", "pembayaran_digital"),
    # Asked since the 2024 form; older exports do not have it.
    Column("Akses internet di kantor desa", "akses_internet_kantor", required=False),
    Column("Jumlah penduduk", "jumlah_penduduk"),
)
LAYOUT = Layout.of(SOURCE, DATASET, "survey_responses", COLUMNS)
SPEC: DatasetSpec = LAYOUT.spec
RAW_TABLES: tuple[RawTable, ...] = (
    RawTable.of(
        SPEC, LAYOUT.names,
        comment="Smart Village survey responses as exported by the form tool (CSV or XLSX), "
                "one row per submission, every value as text.",
        column_comments={
            "timestamp": "Timestamp: when the form was submitted (local time, as exported).",
            "memiliki_website": "Apakah desa memiliki website?",
            "sistem_informasi_desa": "Sistem informasi desa yang digunakan",
            "apbdes_dipublikasikan": "APBDes dipublikasikan (papan/online)",
            "akses_internet_kantor": "Akses internet di kantor desa (asked since the 2024 form)",
        },
        gates=(Gate("_survey_year"),),
    ),
)

# Timestamps as form tools write them: "15/03/2024 14:05:31" (Indonesian locale export),
# "2024-03-15 14:05:31" (an XLSX date-time cell), with or without seconds.
TIMESTAMP_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S",
                     "%Y-%m-%d %H:%M")


def parse_timestamp(value: str) -> datetime | None:
    text = " ".join(value.split())
    for fmt in TIMESTAMP_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _timestamp(value: str | None) -> str | None:
    if parse_timestamp(value or "") is None:
        return "not a date-time (expected dd/mm/yyyy hh:mm:ss)"
    return None


def landing_file(path: Path) -> LandingFile:
    year = folders.YEAR_FOLDER.match(path.parent.name)
    if not year:
        raise UnrecognisedFile(f"{path}: must be inside a tahun=<year> folder")
    if path.suffix.lower() not in SUFFIXES:
        raise UnrecognisedFile(f"{path}: not a .csv or .xlsx export")
    return LandingFile(path, SPEC, year.group(1))


def discover(landing: Path) -> tuple[list[LandingFile], list[str]]:
    """Survey files to land (by year, then name) and problems with the others."""
    return folders.discover(landing / FOLDER, landing_file,
                            lambda f: (f.partition_key, f.path.name), inside="a tahun=<year>")


def read(path: Path, spec: DatasetSpec) -> Iterator[Part]:
    """One survey export (CSV or XLSX) as one part of raw.survey_responses."""
    year = folders.folder_year(path, "survey files")
    header, records = spreadsheet.read_export(path, LAYOUT)
    checks = {
        "timestamp": required(_timestamp),
        "kode_desa": required(village_code),
        "tahun": required(tabular.year(year, "survey year of its folder")),
    }
    # The same submission twice (same village, same timestamp) is a duplicate row; the same
    # village later again is a resubmission, kept (staging takes the latest).
    yield Part(spec, header, checked(records, header, checks, key=("kode_desa", "timestamp")))
