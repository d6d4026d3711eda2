{#
    The body of a Smart Village rollup model (mart_smart_village_district, _regency,
    _province): the desa of mart_smart_village grouped by year and the area's columns.
    level: 'district', 'regency' or 'province'.
    The mean index is the plain mean over the desa with an index; the population-weighted
    index weighs each of them by its surveyed population, over those whose population is
    known (population_known_village_count says how many); each dimension's mean is over the
    desa with a value for it (<dimension>_village_count says how many). Category counts follow
    ref_idm_status_thresholds' status_order (1 Sangat Tertinggal ... 5 Mandiri). The
    area's data_origin combines its desa's (macro data_origin_agg).
#}
{% macro smart_village_rollup(level) -%}
{%- set area_columns = {
    'district': ['district_code', 'district_name', 'regency_code', 'regency_name',
                 'province_code', 'province_name'],
    'regency': ['regency_code', 'regency_name', 'province_code', 'province_name'],
    'province': ['province_code', 'province_name'],
}[level] -%}

with

villages as (

    select * from {{ ref('mart_smart_village') }}

),

thresholds as (

    {{ idm_status_thresholds() }}

),

aggregated as (

    select
        year,
        {{ area_columns | join(', ') }},
        max(methodology_version) as methodology_version,
        count(*) as village_count,
        count(smart_village_index) as scored_village_count,
        avg(smart_village_index) as mean_index,
        sum(smart_village_index * population)
        / nullif(sum(population) filter (where smart_village_index is not null), 0)
            as population_weighted_index,
        sum(population) filter (where smart_village_index is not null) as population_scored,
        count(*) filter (
            where smart_village_index is not null and population is not null
        ) as population_known_village_count,
        count(*) filter (where category_order = 1) as sangat_tertinggal_count,
        count(*) filter (where category_order = 2) as tertinggal_count,
        count(*) filter (where category_order = 3) as berkembang_count,
        count(*) filter (where category_order = 4) as maju_count,
        count(*) filter (where category_order = 5) as mandiri_count,
        count(*) filter (where smart_village_index is null) as unscored_count,
        min(smart_village_index) as min_index,
        percentile_cont(0.25) within group (order by smart_village_index) as p25_index,
        percentile_cont(0.5) within group (order by smart_village_index) as median_index,
        percentile_cont(0.75) within group (order by smart_village_index) as p75_index,
        max(smart_village_index) as max_index,
        stddev_samp(smart_village_index) as stddev_index,
        avg(a_institution) as mean_a_institution,
        avg(b_infrastructure) as mean_b_infrastructure,
        avg(c_service_delivery) as mean_c_service_delivery,
        avg(d_technology_innovation) as mean_d_technology_innovation,
        avg(e_societies) as mean_e_societies,
        avg(f_economy) as mean_f_economy,
        count(a_institution) as a_institution_village_count,
        count(b_infrastructure) as b_infrastructure_village_count,
        count(c_service_delivery) as c_service_delivery_village_count,
        count(d_technology_innovation) as d_technology_innovation_village_count,
        count(e_societies) as e_societies_village_count,
        count(f_economy) as f_economy_village_count,
        avg(completeness) as mean_completeness,
        {{ data_origin_agg('data_origin') }} as data_origin
    from villages
    group by year, {{ area_columns | join(', ') }}

),

final as (

    select
        aggregated.year::integer as year,
        make_date(aggregated.year::integer, 1, 1) as date,
        aggregated.{{ area_columns | join(', aggregated.') }},
        aggregated.methodology_version::text as methodology_version,
        aggregated.village_count::integer as village_count,
        aggregated.scored_village_count::integer as scored_village_count,
        {{ smart_village_round('aggregated.mean_index') }} as mean_index,
        thresholds.status::text as category,
        thresholds.status_order::integer as category_order,
        {{ smart_village_round('aggregated.population_weighted_index') }}
            as population_weighted_index,
        aggregated.population_scored::bigint as population_scored,
        aggregated.population_known_village_count::integer as population_known_village_count,
        aggregated.sangat_tertinggal_count::integer as sangat_tertinggal_count,
        aggregated.tertinggal_count::integer as tertinggal_count,
        aggregated.berkembang_count::integer as berkembang_count,
        aggregated.maju_count::integer as maju_count,
        aggregated.mandiri_count::integer as mandiri_count,
        aggregated.unscored_count::integer as unscored_count,
        {{ smart_village_round('aggregated.min_index') }} as min_index,
        {{ smart_village_round('aggregated.p25_index') }} as p25_index,
        {{ smart_village_round('aggregated.median_index') }} as median_index,
        {{ smart_village_round('aggregated.p75_index') }} as p75_index,
        {{ smart_village_round('aggregated.max_index') }} as max_index,
        {{ smart_village_round('aggregated.stddev_index') }} as stddev_index,
        {{ smart_village_round('aggregated.mean_a_institution') }} as mean_a_institution,
        {{ smart_village_round('aggregated.mean_b_infrastructure') }} as mean_b_infrastructure,
        {{ smart_village_round('aggregated.mean_c_service_delivery') }} as mean_c_service_delivery,
        {{ smart_village_round('aggregated.mean_d_technology_innovation') }} as mean_d_technology_innovation,
        {{ smart_village_round('aggregated.mean_e_societies') }} as mean_e_societies,
        {{ smart_village_round('aggregated.mean_f_economy') }} as mean_f_economy,
        aggregated.a_institution_village_count::integer as a_institution_village_count,
        aggregated.b_infrastructure_village_count::integer as b_infrastructure_village_count,
        aggregated.c_service_delivery_village_count::integer as c_service_delivery_village_count,
        aggregated.d_technology_innovation_village_count::integer as d_technology_innovation_village_count,
        aggregated.e_societies_village_count::integer as e_societies_village_count,
        aggregated.f_economy_village_count::integer as f_economy_village_count,
        {{ smart_village_round('aggregated.mean_completeness') }} as mean_completeness,
        aggregated.data_origin::text as data_origin
    from aggregated
    left join thresholds
        on {{ idm_status_band(smart_village_round('aggregated.mean_index')) }}

)

select * from final
{%- endmacro %}
