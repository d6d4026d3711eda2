-- BUMDes Center by regency and report year: how many desa have a BUMDes and a legal-entity
-- BUMDes, what the BUMDes report in total, and the BUMDes income the desa budgets realised
-- (APBDes 4.1.1) against the contributions the BUMDes report, with discrepancies flagged.
-- Coverage counts desa only: a kelurahan has no village budget and no BUMDes.

with

regencies as (

    {{ regency_names() }}

),

desa as (

    select
        village_code,
        regency_code
    from {{ ref('dim_village') }}
    where
        is_current
        and village_type = 'desa'

),

bumdes_years as (

    select * from {{ ref('int_bumdes__bumdes_years') }}

),

reconciliation as (

    select * from {{ ref('int_bumdes__pades_reconciliation') }}

),

apbdes as (

    select * from {{ ref('int_bumdes__village_pades_in_apbdes') }}

),

-- real or generated: the registry items, BUMDes reports and APBDes submissions of the
-- regency's year
regency_inputs as (

    select
        left(village_code, 4) as regency_code,
        report_year,
        registry_batch_id as batch_id
    from bumdes_years
    union
    select
        left(village_code, 4) as regency_code,
        report_year,
        report_batch_id as batch_id
    from bumdes_years
    union
    select
        regency_code,
        fiscal_year as report_year,
        submission_batch_id as batch_id
    from apbdes

),

origins as (

    select
        regency_inputs.regency_code,
        regency_inputs.report_year,
        {{ data_origin_agg('load_batches.data_origin') }} as data_origin
    from regency_inputs
    inner join {{ ref('stg_audit__load_batches') }} as load_batches
        on regency_inputs.batch_id = load_batches.batch_id
    group by regency_inputs.regency_code, regency_inputs.report_year

),

report_years as (

    select distinct report_year
    from bumdes_years
    where has_report

),

desa_counts as (

    select
        regency_code,
        count(*) as desa_count
    from desa
    group by regency_code

),

coverage as (

    select
        desa.regency_code,
        bumdes_years.report_year,
        count(distinct desa.village_code) as desa_with_bumdes_count,
        count(distinct desa.village_code) filter (
            where bumdes_years.is_legal_entity_by_year_end
        ) as desa_with_legal_entity_bumdes_count
    from bumdes_years
    inner join desa on bumdes_years.village_code = desa.village_code
    -- the registry says which desa have a BUMDes; a report alone does not
    where bumdes_years.is_in_registry
    group by desa.regency_code, bumdes_years.report_year

),

bumdes_totals as (

    select
        left(village_code, 4) as regency_code,
        report_year,
        count(*) filter (where is_in_registry) as registered_bumdes_count,
        count(*) filter (where is_legal_entity_by_year_end) as legal_entity_bumdes_count,
        count(*) filter (where has_report) as reporting_bumdes_count,
        sum(capital) as capital_total,
        sum(village_capital_participation) as village_capital_participation_total,
        sum(assets) as assets_total,
        sum(turnover) as turnover_total,
        sum(profit) as profit_total,
        count(*) filter (where profit > 0) as profitable_bumdes_count,
        sum(pades_contribution) as pades_contribution_reported_total,
        count(*) filter (where ranking_class = 'Perintis') as perintis_count,
        count(*) filter (where ranking_class = 'Pemula') as pemula_count,
        count(*) filter (where ranking_class = 'Berkembang') as berkembang_count,
        count(*) filter (where ranking_class = 'Maju') as maju_count
    from bumdes_years
    group by left(village_code, 4), report_year

),

apbdes_totals as (

    select
        regency_code,
        fiscal_year as report_year,
        count(*) as desa_with_apbdes_count,
        sum(pades_bumdes_realised) as apbdes_4_1_1_realised_total
    from apbdes
    group by regency_code, fiscal_year

),

reconciliation_totals as (

    select
        regency_code,
        report_year,
        count(*) filter (
            where reconciliation_status in ('consistent', 'discrepancy')
        ) as desa_compared_count,
        count(*) filter (
            where reconciliation_status = 'discrepancy'
        ) as desa_with_pades_discrepancy_count,
        count(*) filter (
            where reconciliation_status = 'no_apbdes'
        ) as desa_reported_without_apbdes_count,
        count(*) filter (
            where reconciliation_status = 'no_bumdes_report'
        ) as desa_4_1_1_without_bumdes_report_count,
        sum(pades_contribution_reported) filter (
            where reconciliation_status in ('consistent', 'discrepancy')
        ) as compared_pades_contribution_reported,
        sum(pades_bumdes_realised) filter (
            where reconciliation_status in ('consistent', 'discrepancy')
        ) as compared_apbdes_4_1_1_realised
    from reconciliation
    group by regency_code, report_year

),

regency_years as (

    select
        regencies.regency_code,
        regencies.regency_name,
        report_years.report_year,
        coalesce(desa_counts.desa_count, 0) as desa_count,
        coalesce(coverage.desa_with_bumdes_count, 0) as desa_with_bumdes_count,
        coalesce(coverage.desa_with_legal_entity_bumdes_count, 0)
            as desa_with_legal_entity_bumdes_count,
        coalesce(bumdes_totals.registered_bumdes_count, 0) as registered_bumdes_count,
        coalesce(bumdes_totals.legal_entity_bumdes_count, 0) as legal_entity_bumdes_count,
        coalesce(bumdes_totals.reporting_bumdes_count, 0) as reporting_bumdes_count,
        bumdes_totals.capital_total,
        bumdes_totals.village_capital_participation_total,
        bumdes_totals.assets_total,
        bumdes_totals.turnover_total,
        bumdes_totals.profit_total,
        coalesce(bumdes_totals.profitable_bumdes_count, 0) as profitable_bumdes_count,
        coalesce(bumdes_totals.perintis_count, 0) as perintis_count,
        coalesce(bumdes_totals.pemula_count, 0) as pemula_count,
        coalesce(bumdes_totals.berkembang_count, 0) as berkembang_count,
        coalesce(bumdes_totals.maju_count, 0) as maju_count,
        bumdes_totals.pades_contribution_reported_total,
        coalesce(apbdes_totals.desa_with_apbdes_count, 0) as desa_with_apbdes_count,
        apbdes_totals.apbdes_4_1_1_realised_total,
        coalesce(reconciliation_totals.desa_compared_count, 0) as desa_compared_count,
        coalesce(reconciliation_totals.desa_with_pades_discrepancy_count, 0)
            as desa_with_pades_discrepancy_count,
        coalesce(reconciliation_totals.desa_reported_without_apbdes_count, 0)
            as desa_reported_without_apbdes_count,
        coalesce(reconciliation_totals.desa_4_1_1_without_bumdes_report_count, 0)
            as desa_4_1_1_without_bumdes_report_count,
        reconciliation_totals.compared_pades_contribution_reported,
        reconciliation_totals.compared_apbdes_4_1_1_realised,
        coalesce(origins.data_origin, 'real') as data_origin
    from regencies
    cross join report_years
    left join desa_counts on regencies.regency_code = desa_counts.regency_code
    left join coverage
        on
            regencies.regency_code = coverage.regency_code
            and report_years.report_year = coverage.report_year
    left join bumdes_totals
        on
            regencies.regency_code = bumdes_totals.regency_code
            and report_years.report_year = bumdes_totals.report_year
    left join apbdes_totals
        on
            regencies.regency_code = apbdes_totals.regency_code
            and report_years.report_year = apbdes_totals.report_year
    left join reconciliation_totals
        on
            regencies.regency_code = reconciliation_totals.regency_code
            and report_years.report_year = reconciliation_totals.report_year
    left join origins
        on
            regencies.regency_code = origins.regency_code
            and report_years.report_year = origins.report_year

),

final as (

    select
        regency_code,
        regency_name,
        report_year as year,
        make_date(report_year, 1, 1) as date,
        desa_count::integer as desa_count,
        desa_with_bumdes_count::integer as desa_with_bumdes_count,
        round(desa_with_bumdes_count::numeric / nullif(desa_count, 0), 4)
            as desa_with_bumdes_share,
        desa_with_legal_entity_bumdes_count::integer as desa_with_legal_entity_bumdes_count,
        round(desa_with_legal_entity_bumdes_count::numeric / nullif(desa_count, 0), 4)
            as desa_with_legal_entity_bumdes_share,
        registered_bumdes_count::integer as registered_bumdes_count,
        legal_entity_bumdes_count::integer as legal_entity_bumdes_count,
        reporting_bumdes_count::integer as reporting_bumdes_count,
        capital_total,
        village_capital_participation_total,
        assets_total,
        turnover_total,
        profit_total,
        profitable_bumdes_count::integer as profitable_bumdes_count,
        perintis_count::integer as perintis_count,
        pemula_count::integer as pemula_count,
        berkembang_count::integer as berkembang_count,
        maju_count::integer as maju_count,
        pades_contribution_reported_total,
        desa_with_apbdes_count::integer as desa_with_apbdes_count,
        apbdes_4_1_1_realised_total,
        desa_compared_count::integer as desa_compared_count,
        compared_pades_contribution_reported,
        compared_apbdes_4_1_1_realised,
        compared_pades_contribution_reported - compared_apbdes_4_1_1_realised
            as compared_pades_difference,
        -- the same tolerance as for one desa, on the regency's compared totals
        case
            when desa_compared_count > 0
                then
                    abs(compared_pades_contribution_reported - compared_apbdes_4_1_1_realised)
                    > {{ bumdes_pades_tolerance(
                        'compared_pades_contribution_reported', 'compared_apbdes_4_1_1_realised'
                    ) }}
        end as is_pades_discrepancy,
        desa_with_pades_discrepancy_count::integer as desa_with_pades_discrepancy_count,
        desa_reported_without_apbdes_count::integer as desa_reported_without_apbdes_count,
        desa_4_1_1_without_bumdes_report_count::integer
            as desa_4_1_1_without_bumdes_report_count,
        data_origin
    from regency_years

)

select * from final
