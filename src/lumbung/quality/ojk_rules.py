"""The gate's rules for OJK financial access (source ``ojk``): access reports and KUR.

An access report's batch fills two raw tables; its suite runs on the agents view and checks
the offices view (``audit.gate_ojk_offices``) with unexpected-rows queries. Every rule names
the batch of what it finds, so a delivery's batches are judged in one checkpoint run
(``lumbung.quality.many_batches``).
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
)

# what the reader accepts (lumbung.sources.tabular.village_code), written for Postgres
from lumbung.sources.tabular import VILLAGE_CODE_SQL as VILLAGE_CODE

DISTRICT_CODE = r"^\s*18\.?\d{2}\.?\d{2}\s*$"
# The offices of the batches under validation: the view shows those in status 'validating'
# (naming {batch} also tells GX the query is scoped to them).
OFFICES = ("(select * from audit.gate_ojk_offices "
           "where _batch_id in (select _batch_id from {batch})) as o")
# The access reports under validation (those the gate claimed, as the views show them), each
# once: one whose agents sheet is empty has no row in {batch}.
REPORTS = ("(select batch_id as _batch_id from audit.load_batches where status = 'validating' "
           "and source = 'ojk' and dataset = 'access_points') as r")


def suites() -> tuple[SuiteSpec, ...]:
    access = SuiteSpec(
        "ojk",
        "access_points",
        "ojk_agents",
        (
            matches_by_batch("kode_desa", VILLAGE_CODE, "kode_desa format"),
            *present_by_batch("nama_bank"),
            matches_by_batch("jumlah_agen", r"^\s*\d+\s*$", "jumlah_agen whole number"),
            no_rows_by_batch(
                "one row per village and bank",
                "select _batch_id, kode_desa, nama_bank, count(*) as n from {batch} "
                "group by _batch_id, kode_desa, nama_bank having count(*) > 1",
                "a village's agents of one bank are counted on one row",
            ),
            no_rows_by_batch(
                "offices sheet present",
                # as when a batch was judged alone: a report without agents has no offices
                # of the batches in {batch} either
                f"select r._batch_id, 'no rows' as offices from {REPORTS} "
                "where r._batch_id not in (select _batch_id from {batch}) "
                "or r._batch_id not in (select _batch_id from audit.gate_ojk_offices)",
                "the report's sheet of bank offices and ATMs is not empty",
            ),
            no_rows_by_batch(
                "offices: district code format",
                f"select o._batch_id, kode_kecamatan, nama_bank from {OFFICES} "
                "where kode_kecamatan !~ '^\\s*18\\.?\\d\\d\\.?\\d\\d\\s*$'",
                "every office row names a Lampung district by its Kemendagri code",
            ),
            no_rows_by_batch(
                "offices: one row per district and bank",
                f"select o._batch_id, kode_kecamatan, nama_bank, count(*) as n from {OFFICES} "
                "group by o._batch_id, kode_kecamatan, nama_bank having count(*) > 1",
                "a district's offices of one bank are counted on one row",
            ),
            no_rows_by_batch(
                "offices: a branch has an ATM",
                f"select o._batch_id, kode_kecamatan, nama_bank, kantor_cabang, atm "
                f"from {OFFICES} "
                "where trim(kantor_cabang) ~ '^[1-9]' and trim(atm) = '0'",
                "a bank with a branch office in a district has at least one ATM there",
                WARNING,
            ),
        ),
        partition="month",
    )
    kur = SuiteSpec(
        "ojk",
        "kur",
        "ojk_kur",
        (
            matches_by_batch("kode_kecamatan", DISTRICT_CODE, "kode_kecamatan format"),
            in_set_by_batch("skema", ["Super Mikro", "Mikro", "Kecil"]),
            *present_by_batch("penyalur"),
            no_rows_by_batch(
                "one row per district, scheme and lender",
                "select _batch_id, kode_kecamatan, skema, penyalur, count(*) as n from {batch} "
                "group by _batch_id, kode_kecamatan, skema, penyalur having count(*) > 1",
                "each district's credit of one scheme and lender is on one row",
            ),
            no_rows_by_batch(
                "average credit within the scheme's ceiling",
                f"select _batch_id, kode_kecamatan, skema, penyalur, jumlah_debitur, "
                f"nilai_penyaluran from {{batch}} where trim(jumlah_debitur) ~ '^[1-9][0-9]*$' and "
                f"{amount_sql('nilai_penyaluran')} / trim(jumlah_debitur)::numeric > "
                "case trim(skema) when 'Super Mikro' then 10000000 "
                "when 'Mikro' then 100000000 else 500000000 end",
                "the average credit per debtor is within the scheme's ceiling (Super Mikro "
                "Rp 10 million, Mikro Rp 100 million, Kecil Rp 500 million)",
                WARNING,
            ),
        ),
        partition="quarter",
    )
    return access, kur
