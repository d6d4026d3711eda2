"""The gate's rules for BUMDes (source ``bumdes``): registry pages and yearly reports.

The readers already quarantined items and rows without id, with an unknown village code, a
date or amount that is not one, or repeated; these rules hold each batch to that and warn
about figures that contradict each other.
"""

from __future__ import annotations

from lumbung.quality.dbt_macros import amount_sql
from lumbung.quality.rules import (
    WARNING,
    SuiteSpec,
    in_set,
    matches,
    no_rows,
    present,
    unique,
)

# what the reader accepts (lumbung.sources.tabular.village_code), written for Postgres
from lumbung.sources.tabular import VILLAGE_CODE_SQL as VILLAGE_CODE


def suites() -> tuple[SuiteSpec, ...]:
    registry = SuiteSpec(
        "bumdes",
        "registry",
        "bumdes_registry",
        (
            *present("id"),
            unique("id"),
            *present("nama"),
            matches("kode_desa", VILLAGE_CODE, "kode_desa format"),
            matches("tanggal_berdiri", r"^\d{4}-\d{2}-\d{2}$", "tanggal_berdiri format"),
            in_set("status_badan_hukum", ["Belum Terdaftar", "Nama Terverifikasi",
                                           "Perbaikan Dokumen", "Berbadan Hukum"]),
            no_rows(
                "one page per file",
                "select page, count(*) as n from {batch} group by page "
                "having (select count(distinct page) from {batch}) > 1",
                "every item of a file comes from the same page of the registry",
            ),
            no_rows(
                "legal entity has a certificate",
                "select id, status_badan_hukum, nomor_sertifikat from {batch} "
                "where status_badan_hukum = 'Berbadan Hukum' "
                "and coalesce(trim(nomor_sertifikat), '') = ''",
                "a BUMDes registered as a legal entity carries its certificate number",
                WARNING,
            ),
        ),
        partition="snapshot",
    )
    capital = amount_sql("modal")
    participation = amount_sql("penyertaan_modal_desa")
    reports = SuiteSpec(
        "bumdes",
        "annual_reports",
        "bumdes_annual_reports",
        (
            *present("id_bumdes"),
            matches("kode_desa", VILLAGE_CODE, "kode_desa format"),
            no_rows(
                "tahun is the report year",
                "select id_bumdes, tahun, _report_year from {batch} "
                "where trim(tahun) is distinct from _report_year",
                "every report is for the year of the folder it was delivered in",
            ),
            no_rows(
                "one report per BUMDes and year",
                "select id_bumdes, tahun, count(*) as n from {batch} "
                "group by id_bumdes, tahun having count(*) > 1",
                "a BUMDes reports once a year in a file (duplicate rows)",
            ),
            no_rows(
                "village participation within capital",
                f"select id_bumdes, modal, penyertaan_modal_desa from {{batch}} "
                f"where {participation} > {capital}",
                "the village's capital participation is part of the BUMDes capital",
                WARNING,
            ),
        ),
        partition="year",
    )
    return registry, reports
