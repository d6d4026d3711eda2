-- The APBDes measures of every desa and fiscal year that the Smart Village indicators and
-- the BUMDes reconciliation read (spending by bidang, planning and ICT sub-bidang, capital
-- participation 6.2.2, BUMDes income 4.1.1, a fourth-quarter realisation), from the winning
-- submission of its regency and year. Like int_apbdes__village_year_accounts it is
-- incremental by regency-year: the staging lines are read once per submission, so one
-- regency's resubmission re-reads only that regency-year. A measure without any line is
-- null here (unknown); the consumers decide what zero means.
-- depends_on: {{ ref('stg_apbdes__submissions') }}

{{ apbdes_incremental_config() }}

{%- set changed = apbdes_changed_submissions() %}

with

{{ apbdes_changed_lines(changed) }},

budgeted as (

    select
        fiscal_year,
        village_code,
        regency_code,
        batch_id,
        submission_format,
        sum(amount) filter (where account_group = 'belanja') as budget_spending,
        sum(amount) filter (where bidang_code = '2') as budget_development,
        sum(amount) filter (
            where bidang_code in ('3', '4')
        ) as budget_community_empowerment,
        sum(amount) filter (where sub_bidang_code = '1.4') as budget_planning,
        sum(amount) filter (where account_jenis_code = '4.1.1') as pades_bumdes_budget
    from budget_lines
    group by fiscal_year, village_code, regency_code, batch_id, submission_format

),

realised as (

    select
        fiscal_year,
        village_code,
        regency_code,
        batch_id,
        submission_format,
        sum(amount) filter (where realisation_kind = 'spending') as realised_spending,
        sum(amount) filter (
            where realisation_kind = 'spending' and bidang_code = '1'
        ) as realised_governance,
        sum(amount) filter (
            where realisation_kind = 'spending' and bidang_code = '2'
        ) as realised_development,
        sum(amount) filter (
            where realisation_kind = 'spending' and bidang_code in ('3', '4')
        ) as realised_community_empowerment,
        sum(amount) filter (
            where realisation_kind = 'spending' and sub_bidang_code = '2.6'
        ) as realised_ict,
        sum(amount) filter (
            where realisation_kind = 'financing' and account_jenis_code = '6.2.2'
        ) as realised_capital_participation,
        sum(amount) filter (
            where realisation_kind = 'revenue' and account_jenis_code = '4.1.1'
        ) as pades_bumdes_realised,
        count(*) filter (
            where realisation_kind = 'revenue' and account_jenis_code = '4.1.1'
        ) as pades_realisation_line_count,
        bool_or(realised_quarter = 4) as has_q4_realisation
    from realisation_lines
    group by fiscal_year, village_code, regency_code, batch_id, submission_format

),

final as (

    select
        coalesce(budgeted.fiscal_year, realised.fiscal_year) as fiscal_year,
        coalesce(budgeted.village_code, realised.village_code) as village_code,
        coalesce(budgeted.regency_code, realised.regency_code) as regency_code,
        budgeted.village_code is not null as has_budget,
        budgeted.budget_spending,
        budgeted.budget_development,
        budgeted.budget_community_empowerment,
        budgeted.budget_planning,
        budgeted.pades_bumdes_budget,
        realised.realised_spending,
        realised.realised_governance,
        realised.realised_development,
        realised.realised_community_empowerment,
        realised.realised_ict,
        realised.realised_capital_participation,
        realised.pades_bumdes_realised,
        coalesce(realised.pades_realisation_line_count, 0) as pades_realisation_line_count,
        coalesce(realised.has_q4_realisation, false) as has_q4_realisation,
        coalesce(budgeted.batch_id, realised.batch_id) as submission_batch_id,
        coalesce(budgeted.submission_format, realised.submission_format) as submission_format
    from budgeted
    full outer join realised
        on
            budgeted.fiscal_year = realised.fiscal_year
            and budgeted.village_code = realised.village_code

)

select * from final
