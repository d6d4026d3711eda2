-- Every BUMDes in every report year: the BUMDes of the registry founded by the end of the
-- year (whether they reported or not) and every BUMDes that reported, with what the
-- registry says of it and what it reported for the year.
-- A table: the reconciliation, the BUMDes marts and their tests all read it; it is rebuilt
-- only when the BUMDes source changed.
-- Hash joins only: the BUMDes-years (a union of a filtered cross join with the reports) and
-- the units view are estimated far below their size, and a nested loop over them grows with
-- the square of the reports.

{{ config(materialized='table', pre_hook="set local enable_nestloop = off") }}

with

registry as (

    select * from {{ ref('stg_bumdes__registry') }}

),

units as (

    select * from {{ ref('stg_bumdes__units') }}

),

reports as (

    select * from {{ ref('stg_bumdes__annual_reports') }}

),

report_years as (

    select distinct report_year
    from reports

),

unit_kinds as (

    select
        bumdes_id,
        string_agg(distinct unit_kind, ', ' order by unit_kind) as business_unit_kinds
    from units
    group by bumdes_id

),

bumdes_years as (

    select
        registry.bumdes_id,
        report_years.report_year
    from registry
    cross join report_years
    -- a BUMDes founded after the year cannot have existed in it
    where registry.founded_on <= make_date(report_years.report_year, 12, 31)
    union
    select
        bumdes_id,
        report_year
    from reports

),

final as (

    select
        bumdes_years.bumdes_id,
        bumdes_years.report_year,
        coalesce(registry.village_code, reports.village_code) as village_code,
        coalesce(registry.bumdes_name, reports.bumdes_name) as bumdes_name,
        registry.bumdes_id is not null as is_in_registry,
        registry.snapshot_date as registry_snapshot_date,
        registry.founded_on,
        registry.legal_status,
        registry.registration_stage,
        registry.certificate_date,
        registry.is_legal_entity,
        -- the registry is a snapshot: a legal entity counts from its certificate's year on
        -- (without a certificate date, from the snapshot's status alone)
        coalesce(
            registry.is_legal_entity
            and coalesce(
                registry.certificate_date <= make_date(bumdes_years.report_year, 12, 31), true
            ),
            false
        ) as is_legal_entity_by_year_end,
        registry.business_unit_count,
        unit_kinds.business_unit_kinds,
        reports.bumdes_id is not null as has_report,
        reports.capital,
        reports.village_capital_participation,
        reports.assets,
        reports.turnover,
        reports.profit,
        reports.pades_contribution,
        reports.ranking_class,
        reports.batch_id as report_batch_id,
        registry.batch_id as registry_batch_id
    from bumdes_years
    left join registry on bumdes_years.bumdes_id = registry.bumdes_id
    left join unit_kinds on bumdes_years.bumdes_id = unit_kinds.bumdes_id
    left join reports
        on
            bumdes_years.bumdes_id = reports.bumdes_id
            and bumdes_years.report_year = reports.report_year

)

select * from final
