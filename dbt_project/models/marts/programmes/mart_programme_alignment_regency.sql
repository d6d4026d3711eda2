-- Programme alignment per regency and year: the money of regency, province and private
-- programmes (village-level and district-wide), how much of the village-level money reaches
-- the desa that need it most (the lowest quarter of the regency's Smart Village Index) and
-- the dimension each village is weakest in, and where several actors work on the same
-- dimension in the same village and year.

with

villages as (

    select * from {{ ref('mart_programme_alignment') }}

),

district_wide as (

    select
        regency_code,
        programme_year as year,
        sum(budget_amount) as district_wide_budget,
        count(*) as district_wide_count
    from {{ ref('stg_programmes__activities') }}
    where location_level = 'district'
    group by regency_code, programme_year

),

regency_years as (

    select
        regency_code,
        year,
        max(regency_name) as regency_name,
        count(*) as village_count,
        count(*) filter (where programme_count > 0) as village_with_programme_count,
        count(*) filter (where is_priority_desa) as priority_desa_count,
        count(*) filter (where smart_village_index is not null) as scored_desa_count,
        sum(programme_count) as village_programme_count,
        sum(regency_programme_budget) as regency_programme_budget,
        sum(province_programme_budget) as province_programme_budget,
        sum(private_programme_budget) as private_programme_budget,
        sum(programme_budget) as village_programme_budget,
        sum(programme_budget) filter (where is_priority_desa) as priority_desa_programme_budget,
        sum(programme_budget) filter (
            where weakest_dimension is not null
        ) as scored_village_programme_budget,
        sum(weakest_dimension_programme_budget) as weakest_dimension_programme_budget,
        sum(apbdes_spending_budget) as apbdes_spending_budget,
        sum(overlapping_dimension_count) as overlap_count,
        count(*) filter (where overlapping_dimension_count > 0) as village_with_overlap_count,
        {{ data_origin_agg('data_origin') }} as data_origin
    from villages
    group by regency_code, year

),

final as (

    select
        regency_years.regency_code,
        regency_years.year::integer as year,
        make_date(regency_years.year::integer, 1, 1) as date,
        regency_years.regency_name,
        regency_years.village_count::integer as village_count,
        regency_years.village_with_programme_count::integer as village_with_programme_count,
        regency_years.village_programme_count::integer as village_programme_count,
        coalesce(district_wide.district_wide_count, 0)::integer as district_wide_programme_count,
        regency_years.regency_programme_budget,
        regency_years.province_programme_budget,
        regency_years.private_programme_budget,
        regency_years.village_programme_budget,
        coalesce(district_wide.district_wide_budget, 0) as district_wide_programme_budget,
        regency_years.village_programme_budget
        + coalesce(district_wide.district_wide_budget, 0) as programme_budget,
        regency_years.apbdes_spending_budget,
        regency_years.priority_desa_count::integer as priority_desa_count,
        regency_years.scored_desa_count::integer as scored_desa_count,
        coalesce(regency_years.priority_desa_programme_budget, 0)
            as priority_desa_programme_budget,
        round(
            regency_years.priority_desa_programme_budget
            / nullif(regency_years.village_programme_budget, 0),
            4
        ) as priority_desa_budget_share,
        round(
            regency_years.priority_desa_count::numeric
            / nullif(regency_years.scored_desa_count, 0),
            4
        ) as priority_desa_count_share,
        round(
            regency_years.weakest_dimension_programme_budget
            / nullif(regency_years.scored_village_programme_budget, 0),
            4
        ) as weakest_dimension_budget_share,
        regency_years.overlap_count::integer as overlap_count,
        regency_years.village_with_overlap_count::integer as village_with_overlap_count,
        regency_years.data_origin
    from regency_years
    left join district_wide
        on
            regency_years.regency_code = district_wide.regency_code
            and regency_years.year = district_wide.year

)

select * from final
