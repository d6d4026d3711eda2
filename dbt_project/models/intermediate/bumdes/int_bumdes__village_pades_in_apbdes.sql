-- BUMDes income as the village budget sees it: APBDes account 4.1.1 (Hasil Usaha Desa)
-- budgeted and realised per desa and fiscal year, for every desa of a winning submission.
-- A desa in a submission without any 4.1.1 line has zero; a desa without a submission has
-- no row at all (unknown, never zero).

with

budget_lines as (

    select * from {{ ref('stg_apbdes__budget_lines') }}

),

realisation_lines as (

    select * from {{ ref('stg_apbdes__realisation_lines') }}

),

apbdes_villages as (

    select
        fiscal_year,
        village_code,
        regency_code
    from budget_lines
    union
    select
        fiscal_year,
        village_code,
        regency_code
    from realisation_lines

),

budgeted as (

    select
        fiscal_year,
        village_code,
        sum(amount) as pades_bumdes_budget
    from budget_lines
    where account_jenis_code = '4.1.1'
    group by fiscal_year, village_code

),

realised as (

    select
        fiscal_year,
        village_code,
        sum(amount) as pades_bumdes_realised,
        count(*) as realisation_line_count
    from realisation_lines
    where
        realisation_kind = 'revenue'
        and account_jenis_code = '4.1.1'
    group by fiscal_year, village_code

),

final as (

    select
        apbdes_villages.fiscal_year,
        apbdes_villages.village_code,
        apbdes_villages.regency_code,
        coalesce(budgeted.pades_bumdes_budget, 0) as pades_bumdes_budget,
        coalesce(realised.pades_bumdes_realised, 0) as pades_bumdes_realised,
        coalesce(realised.realisation_line_count, 0) as realisation_line_count
    from apbdes_villages
    left join budgeted
        on
            apbdes_villages.fiscal_year = budgeted.fiscal_year
            and apbdes_villages.village_code = budgeted.village_code
    left join realised
        on
            apbdes_villages.fiscal_year = realised.fiscal_year
            and apbdes_villages.village_code = realised.village_code

)

select * from final
