"""Development programmes of regencies, the province and private parties (CSR), per village.

Regency and province agencies plan in SIPD: each row is a sub-activity with its Kepmendagri
050-5889/2021 nomenclature code (``urusan.bidang.program.kegiatan.sub_kegiatan``), name,
implementing agency (OPD), funding source, budget (pagu), realisation and a free-text
location. Companies report their CSR programmes on a simple form. Landing layout:

- ``<landing>/programmes/sipd/kabupaten=<regency>/tahun=<year>/<name>.csv|.xlsx``: a
  regency's SIPD export; partition key ``<regency>/<year>``;
- ``<landing>/programmes/sipd/provinsi/tahun=<year>/<name>.csv|.xlsx``: the province's;
  partition key ``<year>``;
- ``<landing>/programmes/csr/tahun=<year>/<name>.csv|.xlsx``: the CSR form export;
  partition key ``<year>``.

Every value lands as received. The location is matched here, at landing, to the current
villages of the published region master (``marts.dim_village``; ``village_locations``):
the match is landed beside the row in two columns of its own, ``_lokasi_tingkat``
(``village`` or ``district``) and ``_lokasi_kode`` (10 or 6 digits). A location that names
only a district stays at district level: it is not spread over the district's villages. A
location that matches no village or district, or several (the same desa name in two
districts, no district given), is quarantined with the candidates in the reason, as are
rows with a blank or malformed code, amount or year.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from lumbung.families.programmes import FAMILY
from lumbung.landing import DatasetSpec, Part, Record
from lumbung.raw_tables import Gate, RawTable
from lumbung.sources import folders, spreadsheet, tabular
from lumbung.sources.folders import LandingFile, UnrecognisedFile
from lumbung.sources.tabular import (
    Column,
    Layout,
    amount,
    as_text,
    checked,
    optional,
    pattern,
    required,
)
from lumbung.sources.village_locations import Gazetteer

SOURCE = FAMILY.name
FOLDER = FAMILY.folder
REGENCY = "sipd_regency"
PROVINCE = "sipd_province"
CSR = "csr"
SUFFIXES = (".csv", ".xlsx")

# Kepmendagri 050-5889/2021: urusan (1 digit), bidang (2), program (2), kegiatan (1.2),
# sub-kegiatan (4), e.g. 2.13.03.2.01.0001.
NOMENCLATURE = r"^\d\.\d{2}\.\d{2}\.\d\.\d{2}\.\d{4}$"

_SIPD_COLUMNS = (
    Column("No", "no", required=False),
    Column("Tahun", "tahun"),
    Column("Kode Sub Kegiatan", "kode_sub_kegiatan"),
    Column("Nama Sub Kegiatan", "nama_sub_kegiatan"),
    Column("Perangkat Daerah", "perangkat_daerah"),
    Column("Sumber Dana", "sumber_dana"),
    Column("Lokasi", "lokasi"),
    Column("Pagu (Rp)", "pagu"),
    Column("Realisasi (Rp)", "realisasi"),
)
REGENCY_LAYOUT = Layout.of(SOURCE, REGENCY, "programmes_sipd_regency", _SIPD_COLUMNS)
PROVINCE_LAYOUT = Layout.of(SOURCE, PROVINCE, "programmes_sipd_province", _SIPD_COLUMNS)
CSR_LAYOUT = Layout.of(SOURCE, CSR, "programmes_csr", (
    Column("Timestamp", "timestamp", required=False),
    Column("Tahun", "tahun"),
    Column("Nama Perusahaan", "nama_perusahaan"),
    Column("Nama Program", "nama_program"),
    Column("Bidang", "bidang"),
    Column("Kabupaten/Kota", "kabupaten_kota"),
    Column("Lokasi (Desa/Kecamatan)", "lokasi"),
    Column("Nilai Program (Rp)", "nilai_program"),
    Column("Realisasi (Rp)", "realisasi"),
))
LAYOUTS = {layout.spec.dataset: layout for layout in (REGENCY_LAYOUT, PROVINCE_LAYOUT, CSR_LAYOUT)}
# What landing adds to each row: where its location was matched.
MATCHED = ("_lokasi_tingkat", "_lokasi_kode")
_MATCHED_COMMENTS = {
    "_lokasi_tingkat": "Added at landing: the level the location was matched at, village or "
                       "district (a district-wide programme stays at district level).",
    "_lokasi_kode": "Added at landing: the Kemendagri code the location was matched to "
                    "(10-digit village or 6-digit district), current region master.",
}
# The raw tables hold the export's columns and the match.
SPECS: dict[str, DatasetSpec] = {
    dataset: replace(layout.spec, optional=(*layout.spec.optional, *MATCHED))
    for dataset, layout in LAYOUTS.items()
}


def _matched_table(layout: Layout, partition: str, what: str) -> RawTable:
    """The raw table of one export: its columns as received, then the matched location."""
    return RawTable.of(
        SPECS[layout.spec.dataset], (*layout.names, *MATCHED),
        comment=f"{what}, every value as received, plus the location as matched at landing.",
        column_comments=_MATCHED_COMMENTS,
        gates=(Gate(partition),),
    )


RAW_TABLES: tuple[RawTable, ...] = (
    _matched_table(REGENCY_LAYOUT, "_partition",
                   "A regency's SIPD export of sub-activities with their locations"),
    _matched_table(PROVINCE_LAYOUT, "_year",
                   "The province's SIPD export of sub-activities with their locations"),
    _matched_table(CSR_LAYOUT, "_year", "Private (CSR) programmes as exported by the form tool"),
)

_REGENCY = re.compile(r"^kabupaten=(18\d{2})$")


def landing_file(path: Path) -> LandingFile:
    """The dataset and partition of a file from its folders."""
    year = folders.YEAR_FOLDER.match(path.parent.name)
    owner, kind = path.parent.parent.name, path.parent.parent.parent.name
    if path.suffix.lower() not in SUFFIXES:
        raise UnrecognisedFile(f"{path}: programme exports are .csv or .xlsx")
    if year and owner == "csr":
        return LandingFile(path, SPECS[CSR], year.group(1))
    if year and kind == "sipd" and owner == "provinsi":
        return LandingFile(path, SPECS[PROVINCE], year.group(1))
    if year and kind == "sipd" and (regency := _REGENCY.match(owner)):
        return LandingFile(path, SPECS[REGENCY], f"{regency.group(1)}/{year.group(1)}")
    raise UnrecognisedFile(f"{path}: expected programmes/sipd/kabupaten=<regency>/tahun=<year>/, "
                           "programmes/sipd/provinsi/tahun=<year>/ or programmes/csr/tahun=<year>/")


def discover(landing: Path) -> tuple[list[LandingFile], list[str]]:
    """Programme files to land (by dataset, partition, name) and problems with the others."""
    return folders.discover(landing / FOLDER, landing_file,
                            lambda f: (f.spec.dataset, f.partition_key, f.path.name))


def read(path: Path, spec: DatasetSpec, gazetteer: Gazetteer) -> Iterator[Part]:
    """One programme export as one part of its raw table, each row's location matched."""
    item = landing_file(path)
    year = item.partition_key.split("/")[-1]
    regency = item.partition_key.split("/")[0] if spec.dataset == REGENCY else None
    layout = LAYOUTS[spec.dataset]
    header, records = spreadsheet.read_export(path, layout)
    if spec.dataset == CSR:
        checks = {"tahun": required(tabular.year(year)), "nama_perusahaan": required(),
                  "nama_program": required(), "kabupaten_kota": required(),
                  "lokasi": required(), "nilai_program": required(amount),
                  "realisasi": optional(amount)}
        key = ("nama_perusahaan", "nama_program", "lokasi")
    else:
        checks = {"tahun": required(tabular.year(year)),
                  "kode_sub_kegiatan": required(pattern(NOMENCLATURE, "a sub-activity code "
                                                        "(x.xx.xx.x.xx.xxxx)")),
                  "perangkat_daerah": required(), "lokasi": required(),
                  "pagu": required(amount), "realisasi": optional(amount)}
        key = ("kode_sub_kegiatan", "perangkat_daerah", "sumber_dana", "lokasi")
    rows = checked(records, header, checks, key=key)
    yield Part(spec, [*header, *MATCHED], located(rows, header, gazetteer, regency))


def located(records: Iterator[Record], header: list[str], gazetteer: Gazetteer,
            regency: str | None) -> Iterator[Record]:
    """Records with their location's match appended; unmatched or ambiguous ones
    quarantined with the reason (and the candidates). A CSR row is matched within the
    regency its form names."""
    position = {name: i for i, name in enumerate(header)}
    for record in records:
        if record.values is None:
            yield record
            continue
        values = record.values
        scope, problem = regency, None
        if "kabupaten_kota" in position:
            named = values[position["kabupaten_kota"]] or ""
            scope = gazetteer.regency_for(named)
            if scope is None:
                problem = ("kabupaten_kota", f"unknown regency {named.strip()!r}", named)
        if problem is None:
            text = values[position["lokasi"]]
            where = gazetteer.match(text, scope)
            if where.problem is None:
                yield Record(record.number, [*values, where.level, where.code])
                continue
            problem = ("lokasi", where.problem, text)
        column, reason, value = problem
        yield Record(record.number, None, record.raw or as_text(values), reason, column, value)
