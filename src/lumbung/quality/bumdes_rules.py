"""The gate's rules for BUMDes (source ``bumdes``): registry pages and yearly reports.

The readers already quarantined items and rows without id, with an unknown village code, a
date or amount that is not one, or repeated; these rules hold each batch to that and warn
about figures that contradict each other. Every rule names the batch of what it finds, so a
delivery's batches are judged in one checkpoint run (``lumbung.quality.many_batches``).
"""

from __future__ import annotations

from lumbung.quality.dbt_macros import amount_sql
from lumbung.quality.rules import (
    WARNING,
    SuiteSpec,
    in_set_by_batch,
    matches_by_batch,
    no_rows_by_batch,
    present_by_batch,
    unique_by_batch,
)

# what the reader accepts (lumbung.sources.tabular.village_code), written for Postgres
from lumbung.sources.tabular import VILLAGE_CODE_SQL as VILLAGE_CODE


def suites() -> tuple[SuiteSpec, ...]:
    registry = SuiteSpec(
        "bumdes",
        "registry",
        "bumdes_registry",
        (
            *present_by_batch("id"),
            unique_by_batch("id"),
            *present_by_batch("nama"),
            matches_by_batch("kode_desa", VILLAGE_CODE, "kode_desa format"),
            matches_by_batch("tanggal_berdiri", r"^\d{4}-\d{2}-\d{2}$",
                             "tanggal_berdiri format"),
            in_set_by_batch("status_badan_hukum", ["Belum Terdaftar", "Nama Terverifikasi",
                                                    "Perbaikan Dokumen", "Berbadan Hukum"]),
            no_rows_by_batch(
                "one page per file",
                "select _batch_id, page, count(*) as n from {batch} where _batch_id in ("
                "select _batch_id from {batch} group by _batch_id "
                "having count(distinct page) > 1) group by _batch_id, page",
                "every item of a file comes from the same page of the registry",
            ),
            no_rows_by_batch(
                "legal entity has a certificate",
                "select _batch_id, id, status_badan_hukum, nomor_sertifikat from {batch} "
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
            *present_by_batch("id_bumdes"),
            matches_by_batch("kode_desa", VILLAGE_CODE, "kode_desa format"),
            no_rows_by_batch(
                "tahun is the report year",
                "select _batch_id, id_bumdes, tahun, _report_year from {batch} "
                "where trim(tahun) is distinct from _report_year",
                "every report is for the year of the folder it was delivered in",
            ),
            no_rows_by_batch(
                "one report per BUMDes and year",
                "select _batch_id, id_bumdes, tahun, count(*) as n from {batch} "
                "group by _batch_id, id_bumdes, tahun having count(*) > 1",
                "a BUMDes reports once a year in a file (duplicate rows)",
            ),
            no_rows_by_batch(
                "village participation within capital",
                f"select _batch_id, id_bumdes, modal, penyertaan_modal_desa from {{batch}} "
                f"where {participation} > {capital}",
                "the village's capital participation is part of the BUMDes capital",
                WARNING,
            ),
        ),
        partition="year",
    )
    return registry, reports
