"""The gate's rules for OJK financial access (source ``ojk``): access reports and KUR.

An access report's batch fills two raw tables; its suite runs on the agents view and checks
the offices view (``audit.gate_ojk_offices``) with unexpected-rows queries.
"""

from __future__ import annotations

from lumbung.quality.dbt_macros import amount_sql
from lumbung.quality.rules import WARNING, SuiteSpec, in_set, matches, no_rows, present

# what the reader accepts (lumbung.sources.tabular.village_code), written for Postgres
from lumbung.sources.tabular import VILLAGE_CODE_SQL as VILLAGE_CODE

DISTRICT_CODE = r"^\s*18\.?\d{2}\.?\d{2}\s*$"
# The offices of the batch under validation (the view shows only that batch; naming {batch}
# also tells GX the query is scoped to it).
OFFICES = ("(select * from audit.gate_ojk_offices "
           "where _batch_id in (select _batch_id from {batch})) as o")


def suites() -> tuple[SuiteSpec, ...]:
    access = SuiteSpec(
        "ojk",
        "access_points",
        "ojk_agents",
        (
            matches("kode_desa", VILLAGE_CODE, "kode_desa format"),
            *present("nama_bank"),
            matches("jumlah_agen", r"^\s*\d+\s*$", "jumlah_agen whole number"),
            no_rows(
                "one row per village and bank",
                "select kode_desa, nama_bank, count(*) as n from {batch} "
                "group by kode_desa, nama_bank having count(*) > 1",
                "a village's agents of one bank are counted on one row",
            ),
            no_rows(
                "offices sheet present",
                f"select 'no rows' as offices where not exists (select from {OFFICES})",
                "the report's sheet of bank offices and ATMs is not empty",
            ),
            no_rows(
                "offices: district code format",
                f"select kode_kecamatan, nama_bank from {OFFICES} "
                "where kode_kecamatan !~ '^\\s*18\\.?\\d\\d\\.?\\d\\d\\s*$'",
                "every office row names a Lampung district by its Kemendagri code",
            ),
            no_rows(
                "offices: one row per district and bank",
                f"select kode_kecamatan, nama_bank, count(*) as n from {OFFICES} "
                "group by kode_kecamatan, nama_bank having count(*) > 1",
                "a district's offices of one bank are counted on one row",
            ),
            no_rows(
                "offices: a branch has an ATM",
                f"select kode_kecamatan, nama_bank, kantor_cabang, atm from {OFFICES} "
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
            matches("kode_kecamatan", DISTRICT_CODE, "kode_kecamatan format"),
            in_set("skema", ["Super Mikro", "Mikro", "Kecil"]),
            *present("penyalur"),
            no_rows(
                "one row per district, scheme and lender",
                "select kode_kecamatan, skema, penyalur, count(*) as n from {batch} "
                "group by kode_kecamatan, skema, penyalur having count(*) > 1",
                "each district's credit of one scheme and lender is on one row",
            ),
            no_rows(
                "average credit within the scheme's ceiling",
                f"select kode_kecamatan, skema, penyalur, jumlah_debitur, nilai_penyaluran "
                f"from {{batch}} where trim(jumlah_debitur) ~ '^[1-9][0-9]*$' and "
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
