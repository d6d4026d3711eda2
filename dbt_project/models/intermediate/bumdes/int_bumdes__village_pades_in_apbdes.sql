-- BUMDes income as the village budget sees it: APBDes account 4.1.1 (Hasil Usaha Desa)
-- budgeted and realised per desa and fiscal year, for every desa of a winning submission.
-- A desa in a submission without any 4.1.1 line has zero; a desa without a submission has
-- no row at all (unknown, never zero). Read from the incremental village-year measures, so
-- the reconciliation never re-reads the APBDes staging lines.

with

village_years as (

    select * from {{ ref('int_apbdes__village_years') }}

),

final as (

    select
        fiscal_year,
        village_code,
        regency_code,
        coalesce(pades_bumdes_budget, 0) as pades_bumdes_budget,
        coalesce(pades_bumdes_realised, 0) as pades_bumdes_realised,
        pades_realisation_line_count as realisation_line_count,
        submission_batch_id
    from village_years

)

select * from final
