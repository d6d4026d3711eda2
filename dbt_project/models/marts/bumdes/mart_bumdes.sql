-- BUMDes Center: every BUMDes in every report year, with its legal status, business units,
-- reported finances and ranking class, placed in the current region master, and its
-- contribution to village income checked against the desa's APBDes (account 4.1.1).

with

bumdes_years as (

    select * from {{ ref('int_bumdes__bumdes_years') }}

),

reconciliation as (

    select * from {{ ref('int_bumdes__pades_reconciliation') }}

),

villages as (

    select * from {{ ref('dim_village') }}
    where is_current

),

load_batches as (

    select
        batch_id,
        data_origin
    from {{ ref('stg_audit__load_batches') }}

),

-- the reports of every BUMDes of the desa in the year, which the village_ columns sum
village_reports as (

    select
        bumdes_years.village_code,
        bumdes_years.report_year,
        {{ data_origin_agg('load_batches.data_origin') }} as data_origin
    from bumdes_years
    inner join load_batches on bumdes_years.report_batch_id = load_batches.batch_id
    group by bumdes_years.village_code, bumdes_years.report_year

),

-- real or generated: the registry item, the reports of the desa's BUMDes for the year and
-- the APBDes submission they are reconciled with
origins as (

    select
        bumdes_years.bumdes_id,
        bumdes_years.report_year,
        {{ data_origin_agg('inputs.data_origin') }} as data_origin
    from bumdes_years
    left join load_batches as registry_batches
        on bumdes_years.registry_batch_id = registry_batches.batch_id
    left join load_batches as report_batches
        on bumdes_years.report_batch_id = report_batches.batch_id
    left join village_reports
        on
            bumdes_years.village_code = village_reports.village_code
            and bumdes_years.report_year = village_reports.report_year
            and bumdes_years.has_report
    left join reconciliation
        on
            bumdes_years.village_code = reconciliation.village_code
            and bumdes_years.report_year = reconciliation.report_year
            and bumdes_years.has_report
    left join load_batches as apbdes_batches
        on reconciliation.apbdes_batch_id = apbdes_batches.batch_id
    cross join
        lateral (
            values
            (registry_batches.data_origin),
            (report_batches.data_origin),
            (village_reports.data_origin),
            (apbdes_batches.data_origin)
        ) as inputs (data_origin)
    group by bumdes_years.bumdes_id, bumdes_years.report_year

),

final as (

    select
        bumdes_years.bumdes_id,
        bumdes_years.report_year as year,
        make_date(bumdes_years.report_year, 1, 1) as date,
        bumdes_years.bumdes_name,
        bumdes_years.village_code,
        villages.village_name,
        villages.district_code,
        villages.district_name,
        coalesce(villages.regency_code, left(bumdes_years.village_code, 4)) as regency_code,
        villages.regency_name,
        bumdes_years.is_in_registry,
        bumdes_years.registry_snapshot_date,
        bumdes_years.founded_on,
        bumdes_years.legal_status,
        bumdes_years.registration_stage,
        bumdes_years.certificate_date,
        bumdes_years.is_legal_entity,
        bumdes_years.is_legal_entity_by_year_end,
        bumdes_years.business_unit_count::integer as business_unit_count,
        bumdes_years.business_unit_kinds,
        bumdes_years.has_report,
        bumdes_years.capital,
        bumdes_years.village_capital_participation,
        bumdes_years.assets,
        bumdes_years.turnover,
        bumdes_years.profit,
        bumdes_years.profit > 0 as is_profitable,
        bumdes_years.pades_contribution,
        bumdes_years.ranking_class,
        case bumdes_years.ranking_class
            when 'Perintis' then 1
            when 'Pemula' then 2
            when 'Berkembang' then 3
            when 'Maju' then 4
        end as ranking_class_order,
        reconciliation.reporting_bumdes_count::integer as village_reporting_bumdes_count,
        reconciliation.pades_contribution_reported as village_pades_contribution_reported,
        reconciliation.has_apbdes as village_has_apbdes,
        reconciliation.pades_bumdes_budget as village_apbdes_4_1_1_budget,
        reconciliation.pades_bumdes_realised as village_apbdes_4_1_1_realised,
        reconciliation.pades_difference,
        reconciliation.reconciliation_status as pades_reconciliation_status,
        reconciliation.is_pades_discrepancy,
        bumdes_years.report_batch_id,
        coalesce(origins.data_origin, 'real') as data_origin
    from bumdes_years
    left join villages on bumdes_years.village_code = villages.village_code
    left join origins
        on
            bumdes_years.bumdes_id = origins.bumdes_id
            and bumdes_years.report_year = origins.report_year
    left join reconciliation
        on
            bumdes_years.village_code = reconciliation.village_code
            and bumdes_years.report_year = reconciliation.report_year
            and bumdes_years.has_report

)

select * from final
