-- Smart Village indicator values from the APBDes: the village-year measures of the winning
-- submission of each regency and year (int_apbdes__village_years). Only desa of a regency
-- that submitted for the year have values: there `budget_submitted` is 1 or 0, and the
-- other measures exist when the desa has a budget (a missing budget leaves them missing,
-- not zero). The flat template is undated, so `q4_realisation_reported` is missing for it.
-- Grain: one row per (village_code, year, indicator_id).
-- noqa: disable=RF04
-- A table, not a view: the region DAG rebuilds dim_village, and dbt drops the views reading
-- a replaced table (cascade).
{{ config(materialized='table') }}

with

submissions as (

    select
        regency_code,
        fiscal_year,
        submission_format
    from {{ ref('stg_apbdes__submissions') }}

),

desa as (

    select
        village_code,
        regency_code
    from {{ ref('dim_village') }}
    where is_current and village_type = 'desa'

),

covered as (

    select
        desa.village_code,
        submissions.fiscal_year,
        submissions.submission_format
    from desa
    inner join submissions on desa.regency_code = submissions.regency_code

),

apbdes as (

    select * from {{ ref('int_apbdes__village_years') }}

),

village_years as (

    select
        covered.village_code,
        covered.fiscal_year as year,
        covered.submission_format,
        coalesce(apbdes.has_budget, false) as has_budget,
        apbdes.budget_spending,
        apbdes.budget_development,
        apbdes.budget_community_empowerment,
        apbdes.budget_planning,
        coalesce(apbdes.realised_spending, 0) as realised_spending,
        coalesce(apbdes.realised_governance, 0) as realised_governance,
        coalesce(apbdes.realised_development, 0) as realised_development,
        coalesce(apbdes.realised_community_empowerment, 0) as realised_community_empowerment,
        coalesce(apbdes.realised_ict, 0) as realised_ict,
        coalesce(apbdes.realised_capital_participation, 0) as realised_capital_participation,
        coalesce(apbdes.has_q4_realisation, false) as has_q4
    from covered
    left join apbdes
        on
            covered.village_code = apbdes.village_code
            and covered.fiscal_year = apbdes.fiscal_year

),

measures as (

    select
        village_years.village_code,
        village_years.year,
        measure.field,
        measure.raw_value
    from village_years
    cross join lateral (
        values
        ('budget_submitted', village_years.has_budget::integer::numeric),
        (
            'spending_absorption',
            village_years.realised_spending / nullif(village_years.budget_spending, 0)
        ),
        (
            'q4_realisation_reported',
            case
                when village_years.has_budget and village_years.submission_format = 'siskeudes'
                    then village_years.has_q4::integer::numeric
            end
        ),
        (
            'governance_spending_share',
            village_years.realised_governance / nullif(village_years.realised_spending, 0)
        ),
        (
            'planning_budget',
            case when village_years.has_budget then coalesce(village_years.budget_planning, 0) end
        ),
        (
            'development_absorption',
            village_years.realised_development / nullif(village_years.budget_development, 0)
        ),
        (
            'community_empowerment_absorption',
            village_years.realised_community_empowerment
            / nullif(village_years.budget_community_empowerment, 0)
        ),
        (
            'ict_spending',
            case when village_years.has_budget then village_years.realised_ict end
        ),
        (
            'capital_participation',
            case when village_years.has_budget then village_years.realised_capital_participation end
        )
    ) as measure (field, raw_value)

),

{{ smart_village_indicator_values('apbdes') }}
