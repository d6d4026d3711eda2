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

{#- each measure once, with the lines it sums #}
{%- set budget_measures = {
    'budget_spending': "account_group = 'belanja'",
    'budget_development': "bidang_code = '2'",
    'budget_community_empowerment': "bidang_code in ('3', '4')",
    'budget_planning': "sub_bidang_code = '1.4'",
    'pades_bumdes_budget': "account_jenis_code = '4.1.1'",
} %}
{%- set realised_measures = {
    'realised_spending': "realisation_kind = 'spending'",
    'realised_governance': "realisation_kind = 'spending' and bidang_code = '1'",
    'realised_development': "realisation_kind = 'spending' and bidang_code = '2'",
    'realised_community_empowerment':
        "realisation_kind = 'spending' and bidang_code in ('3', '4')",
    'realised_ict': "realisation_kind = 'spending' and sub_bidang_code = '2.6'",
    'realised_capital_participation':
        "realisation_kind = 'financing' and account_jenis_code = '6.2.2'",
    'pades_bumdes_realised': "realisation_kind = 'revenue' and account_jenis_code = '4.1.1'",
} %}

with

{{ apbdes_changed_lines(changed) }},

budgeted as (

    select
        fiscal_year,
        village_code,
        regency_code,
        {% for measure, condition in budget_measures.items() -%}
            sum(amount) filter (where {{ condition }}) as {{ measure }},
        {% endfor -%}
        batch_id,
        submission_format
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
        {% for measure, condition in realised_measures.items() -%}
            sum(amount) filter (where {{ condition }}) as {{ measure }},
        {% endfor -%}
        count(*) filter (
            where {{ realised_measures['pades_bumdes_realised'] }}
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
        {% for measure in budget_measures -%}
            budgeted.{{ measure }},
        {% endfor -%}
        {% for measure in realised_measures -%}
            realised.{{ measure }},
        {% endfor -%}
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
