-- Smart Village indicator values from the BUMDes registry (latest snapshot) and the yearly
-- BUMDes reports, for every desa and year of the spine in a regency the registry covers
-- (one with at least one BUMDes in it; elsewhere the registry is taken as not delivered,
-- and the values are missing). A BUMDes counts from its founding date; it is a legal
-- entity from its certificate date. A desa without a BUMDes has no profit and no PADes
-- contribution (0); a desa whose BUMDes sent no report for the year has them missing.
-- Grain: one row per (village_code, year, indicator_id).
-- noqa: disable=RF04

with

village_years as (

    select
        village_code,
        year,
        regency_code
    from {{ ref('int_smart_village__village_years') }}

),

registry as (

    select
        bumdes_id,
        village_code,
        founded_on,
        is_legal_entity,
        certificate_date
    from {{ ref('stg_bumdes__registry') }}

),

reports as (

    select
        village_code,
        report_year,
        sum(profit) as profit,
        sum(pades_contribution) as pades_contribution
    from {{ ref('stg_bumdes__annual_reports') }}
    group by village_code, report_year

),

covered_regencies as (

    select distinct left(village_code, 4) as regency_code
    from registry

),

registered as (

    select
        village_years.village_code,
        village_years.year,
        bool_or(registry.founded_on <= make_date(village_years.year, 12, 31)) as has_bumdes,
        bool_or(
            registry.founded_on <= make_date(village_years.year, 12, 31)
            and registry.is_legal_entity
            and coalesce(registry.certificate_date <= make_date(village_years.year, 12, 31), true)
        ) as has_legal_entity
    from village_years
    inner join covered_regencies on village_years.regency_code = covered_regencies.regency_code
    left join registry on village_years.village_code = registry.village_code
    group by village_years.village_code, village_years.year

),

village_values as (

    select
        registered.village_code,
        registered.year,
        coalesce(registered.has_bumdes, false) as has_bumdes,
        coalesce(registered.has_legal_entity, false) as has_legal_entity,
        reports.profit,
        reports.pades_contribution,
        reports.village_code is not null as has_report
    from registered
    left join reports
        on
            registered.village_code = reports.village_code
            and registered.year = reports.report_year

),

measures as (

    select
        village_values.village_code,
        village_values.year,
        measure.field,
        measure.raw_value
    from village_values
    cross join lateral (
        values
        ('bumdes_exists', village_values.has_bumdes::integer::numeric),
        ('bumdes_legal_entity', village_values.has_legal_entity::integer::numeric),
        (
            'bumdes_profit',
            case
                when village_values.has_report then village_values.profit
                when not village_values.has_bumdes then 0
            end
        ),
        (
            'bumdes_pades_contribution',
            case
                when village_values.has_report then village_values.pades_contribution
                when not village_values.has_bumdes then 0
            end
        )
    ) as measure (field, raw_value)

),

{{ smart_village_indicator_values('bumdes') }}
