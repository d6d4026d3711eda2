-- Smart Village indicator values from the OJK financial access reports, for the desa of
-- every regency a report covers in the year (one with at least one row in it; elsewhere the
-- values are missing): Laku Pandai agents in the village at the last reported month of the
-- year (0 when the report lists none there), and KUR debtors in the village's district over
-- the year's quarters (0 when none).
-- Grain: one row per (village_code, year, indicator_id).
-- A table: the heaviest of the per-source values (every access point against every desa),
-- rebuilt only when OJK reports or the region master change, not with every other source.
-- noqa: disable=RF04

{{ config(materialized='table') }}

with

desa as (

    select
        village_code,
        district_code,
        regency_code
    from {{ ref('dim_village') }}
    where is_current and village_type = 'desa'

),

access_points as (

    select
        period_month,
        extract(year from period_month)::integer as year,
        area_level,
        village_code,
        left(district_code, 4) as regency_code,
        access_type,
        point_count
    from {{ ref('stg_ojk__access_points') }}

),

last_month as (

    select
        year,
        max(period_month) as period_month
    from access_points
    group by year

),

year_end_points as (

    select access_points.*
    from access_points
    inner join last_month on access_points.period_month = last_month.period_month

),

access_regencies as (

    select distinct
        year,
        regency_code
    from year_end_points

),

agents as (

    select
        desa.village_code,
        access_regencies.year,
        coalesce(sum(village_points.point_count), 0) as agent_count
    from desa
    inner join access_regencies on desa.regency_code = access_regencies.regency_code
    left join year_end_points as village_points
        on
            desa.village_code = village_points.village_code
            and access_regencies.year = village_points.year
            and village_points.access_type = 'laku_pandai_agent'
    group by desa.village_code, access_regencies.year

),

kur as (

    select
        district_code,
        left(district_code, 4) as regency_code,
        kur_year as year,
        sum(debtor_count) as debtor_count
    from {{ ref('stg_ojk__kur_district_quarter') }}
    group by district_code, kur_year

),

kur_regencies as (

    select distinct
        regency_code,
        year
    from kur

),

district_kur as (

    select
        desa.village_code,
        kur_regencies.year,
        coalesce(kur.debtor_count, 0) as debtor_count
    from desa
    inner join kur_regencies on desa.regency_code = kur_regencies.regency_code
    left join kur
        on
            desa.district_code = kur.district_code
            and kur_regencies.year = kur.year

),

measures as (

    select
        village_code,
        year,
        'laku_pandai_agents' as field,
        agent_count::numeric as raw_value
    from agents
    union all
    select
        village_code,
        year,
        'district_kur_debtors' as field,
        debtor_count::numeric as raw_value
    from district_kur

),

{{ smart_village_indicator_values('ojk') }}
