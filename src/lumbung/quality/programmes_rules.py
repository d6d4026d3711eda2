"""The gate's rules for development programmes (source ``programmes``): the regencies' and
the province's SIPD exports and the CSR form export.

The reader already quarantined rows whose location matched no village or district (or
several), or whose code, amount or year is unusable; these rules hold each batch to that,
and check the landed matches against the published region master. Every rule of the
exports names the batch of what it finds, so a delivery's batches are judged in one
checkpoint run (``lumbung.quality.many_batches``).
"""

from __future__ import annotations

from lumbung.quality.dbt_macros import amount_sql
from lumbung.quality.rules import (
    WARNING,
    Rule,
    SuiteSpec,
    between,
    in_set,
    in_set_by_batch,
    matches_by_batch,
    no_rows_by_batch,
    not_null,
    present_by_batch,
    unique_together,
)

NOMENCLATURE_SQL = r"^\s*[0-9]\.[0-9]{2}\.[0-9]{2}\.[0-9]\.[0-9]{2}\.[0-9]{4}\s*$"


def _matched(year: str, budget: str, key: tuple[str, ...]) -> tuple[Rule, ...]:
    """Rules every programme export shares: the matched location, year, amounts, key."""
    columns = ", ".join(key)
    return (
        in_set_by_batch("_lokasi_tingkat", ["village", "district"]),
        no_rows_by_batch(
            "matched location is a current village or district",
            # GX puts {batch} in as an aliased subquery: the query gives it no alias.
            "select _batch_id, lokasi, _lokasi_tingkat, _lokasi_kode from {batch} where "
            "(_lokasi_tingkat = 'village' and _lokasi_kode not in ("
            "select v.village_code from marts.dim_village as v where v.is_current)) or "
            "(_lokasi_tingkat = 'district' and _lokasi_kode not in ("
            "select v.district_code from marts.dim_village as v where v.is_current))",
            "every location was matched to a current village (10 digits) or district "
            "(6 digits) of the region master (marts.dim_village)",
        ),
        no_rows_by_batch(
            "tahun is the year of the folder",
            f"select _batch_id, lokasi, tahun, {year} from {{batch}} "
            f"where trim(tahun) is distinct from {year}",
            "every row is for the year of the folder it was delivered in",
        ),
        no_rows_by_batch(
            f"{budget} is an amount",
            f"select _batch_id, lokasi, {budget} from {{batch}} where {amount_sql(budget)} is null",
            f"{budget} is an Indonesian-formatted amount",
        ),
        no_rows_by_batch(
            f"one row per {columns}",
            f"select _batch_id, {columns}, count(*) as n from {{batch}} "
            f"group by _batch_id, {columns} "
            "having count(*) > 1",
            "a programme is listed once per location",
        ),
        no_rows_by_batch(
            f"realisasi within {budget}",
            f"select _batch_id, lokasi, {budget}, realisasi from {{batch}} "
            f"where {amount_sql('realisasi')} > {amount_sql(budget)}",
            f"the realisation does not exceed the budget ({budget})",
            WARNING,
        ),
    )


def _sipd(dataset: str, name: str, year: str, partition: str) -> SuiteSpec:
    return SuiteSpec(
        "programmes",
        dataset,
        name,
        (
            matches_by_batch("kode_sub_kegiatan", NOMENCLATURE_SQL, "kode_sub_kegiatan format"),
            *present_by_batch("perangkat_daerah"),
            *_matched(year, "pagu", ("kode_sub_kegiatan", "perangkat_daerah", "sumber_dana",
                                     "lokasi")),
        ),
        partition=partition,
    )


def suites() -> tuple[SuiteSpec, ...]:
    regency = _sipd("sipd_regency", "programmes_sipd_regency",
                    "split_part(_partition, '/', 2)", "regency/year")
    regency = SuiteSpec(regency.source, regency.dataset, regency.name, (
        *regency.rules,
        no_rows_by_batch(
            "location in the file's regency",
            "select _batch_id, lokasi, _lokasi_kode from {batch} "
            "where left(_lokasi_kode, 4) <> split_part(_partition, '/', 1)",
            "a regency's SIPD plans only for its own villages and districts",
        ),
    ), partition=regency.partition)
    province = _sipd("sipd_province", "programmes_sipd_province", "_year", "year")
    csr = SuiteSpec(
        "programmes",
        "csr",
        "programmes_csr",
        (
            *present_by_batch("nama_perusahaan"),
            *present_by_batch("bidang"),
            *_matched("_year", "nilai_program", ("nama_perusahaan", "nama_program", "lokasi")),
        ),
        partition="year",
    )
    return regency, province, csr


def mart_rules() -> dict[str, tuple[Rule, ...]]:
    """The audit rules of the programme alignment marts, by table (``mart_rules`` adds the
    rules every mart has)."""
    origins = ["real", "generated", "mixed"]
    return {
        "mart_programme_alignment": (
            unique_together("village_code", "year"),
            in_set("data_origin", origins),
            not_null("programme_budget"),
            in_set("weakest_dimension", ["A", "B", "C", "D", "E", "F"]),
            between("overlapping_dimension_count", 0, 6),
        ),
        "mart_programme_alignment_regency": (
            unique_together("regency_code", "year"),
            in_set("data_origin", origins),
            not_null("programme_budget"),
            between("priority_desa_budget_share", 0, 1),
            between("weakest_dimension_budget_share", 0, 1),
        ),
    }
