"""The gate's rules for BUMDes (source ``bumdes``): registry pages and yearly reports.

The readers already quarantined items and rows without id, with an unknown village code, a
date or amount that is not one, or repeated; these rules hold each batch to that and warn
about figures that contradict each other. This module imports ``suites`` only inside
``bumdes_suites()``, so ``suites.py`` can import it at its top.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lumbung.quality.suites import SuiteSpec

VILLAGE_CODE = r"^\s*18\.?\d{2}\.?\d{2}\.?[12]\d{3}\s*$"


def amount_sql(column: str) -> str:
    """An Indonesian-formatted amount as numeric, null when it is none (as the reader and
    the dbt macro parse_id_number read it). No braces: GX formats these queries."""
    text = (f"regexp_replace(regexp_replace(regexp_replace({column}, '\\s', '', 'g'), "
            "'^(-?)[Rr][Pp]\\.?', '\\1'), ',-$', '')")
    return (
        f"(case when {text} ~ '^-?\\d\\d?\\d?(\\.\\d\\d\\d)+(,\\d+)?$' "
        f"then replace(replace({text}, '.', ''), ',', '.')::numeric "
        f"when {text} ~ '^-?\\d+(,\\d+)?$' then replace({text}, ',', '.')::numeric "
        f"when {text} ~ '^-?\\d+\\.\\d+$' then {text}::numeric end)"
    )


def bumdes_suites() -> tuple[SuiteSpec, ...]:
    from lumbung.quality.suites import (
        WARNING,
        SuiteSpec,
        _in_set,
        _matches,
        _no_rows,
        _present,
        _unique,
    )

    registry = SuiteSpec(
        "bumdes",
        "registry",
        "bumdes_registry",
        (
            *_present("id"),
            _unique("id"),
            *_present("nama"),
            _matches("kode_desa", VILLAGE_CODE, "kode_desa format"),
            _matches("tanggal_berdiri", r"^\d{4}-\d{2}-\d{2}$", "tanggal_berdiri format"),
            _in_set("status_badan_hukum", ["Belum Terdaftar", "Nama Terverifikasi",
                                           "Perbaikan Dokumen", "Berbadan Hukum"]),
            _no_rows(
                "one page per file",
                "select page, count(*) as n from {batch} group by page "
                "having (select count(distinct page) from {batch}) > 1",
                "every item of a file comes from the same page of the registry",
            ),
            _no_rows(
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
            *_present("id_bumdes"),
            _matches("kode_desa", VILLAGE_CODE, "kode_desa format"),
            _no_rows(
                "tahun is the report year",
                "select id_bumdes, tahun, _report_year from {batch} "
                "where trim(tahun) is distinct from _report_year",
                "every report is for the year of the folder it was delivered in",
            ),
            _no_rows(
                "one report per BUMDes and year",
                "select id_bumdes, tahun, count(*) as n from {batch} "
                "group by id_bumdes, tahun having count(*) > 1",
                "a BUMDes reports once a year in a file (duplicate rows)",
            ),
            _no_rows(
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
