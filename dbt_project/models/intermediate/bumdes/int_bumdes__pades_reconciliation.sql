-- What the BUMDes of a desa report as their contribution to village income (PADes) against
-- what the desa's APBDes realised on account 4.1.1, per desa and report year. A desa is here
-- when one of its BUMDes reported for the year, or when its APBDes realised 4.1.1 income.

with

bumdes_years as (

    select * from {{ ref('int_bumdes__bumdes_years') }}

),

apbdes as (

    select * from {{ ref('int_bumdes__village_pades_in_apbdes') }}

),

report_years as (

    select distinct report_year
    from bumdes_years
    where has_report

),

reported as (

    select
        village_code,
        report_year,
        count(*) as reporting_bumdes_count,
        -- null when no report of the desa gave the amount: unknown, not zero
        sum(pades_contribution) as pades_contribution_reported
    from bumdes_years
    where has_report
    group by village_code, report_year

),

apbdes_income as (

    select
        apbdes.village_code,
        apbdes.fiscal_year as report_year
    from apbdes
    inner join report_years on apbdes.fiscal_year = report_years.report_year
    where apbdes.pades_bumdes_realised <> 0

),

village_years as (

    select
        village_code,
        report_year
    from reported
    union
    select
        village_code,
        report_year
    from apbdes_income

),

compared as (

    select
        village_years.village_code,
        village_years.report_year,
        left(village_years.village_code, 4) as regency_code,
        coalesce(reported.reporting_bumdes_count, 0) as reporting_bumdes_count,
        reported.pades_contribution_reported,
        apbdes.village_code is not null as has_apbdes,
        apbdes.pades_bumdes_budget,
        apbdes.pades_bumdes_realised,
        apbdes.submission_batch_id as apbdes_batch_id,
        reported.pades_contribution_reported - apbdes.pades_bumdes_realised
            as pades_difference,
        {{ bumdes_pades_tolerance(
            'reported.pades_contribution_reported', 'apbdes.pades_bumdes_realised'
        ) }} as pades_tolerance
    from village_years
    left join reported
        on
            village_years.village_code = reported.village_code
            and village_years.report_year = reported.report_year
    left join apbdes
        on
            village_years.village_code = apbdes.village_code
            and village_years.report_year = apbdes.fiscal_year

),

final as (

    select
        village_code,
        report_year,
        regency_code,
        reporting_bumdes_count,
        pades_contribution_reported,
        has_apbdes,
        pades_bumdes_budget,
        pades_bumdes_realised,
        apbdes_batch_id,
        pades_difference,
        pades_tolerance,
        case
            when pades_contribution_reported is null then 'no_bumdes_report'
            when not has_apbdes then 'no_apbdes'
            when abs(pades_difference) <= pades_tolerance then 'consistent'
            else 'discrepancy'
        end as reconciliation_status,
        -- null where the two cannot be compared
        case
            when pades_difference is not null then abs(pades_difference) > pades_tolerance
        end as is_pades_discrepancy
    from compared

)

select * from final
