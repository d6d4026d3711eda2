-- Programme money per village and year against the village's needs: what the regency, the
-- province and private parties (CSR) planned for the village, beside the village's own
-- APBDes spending, by Smart Village dimension, and how much of it goes to the dimension the
-- village is weakest in (mart_smart_village). District-wide programmes are not spread over
-- villages: they are in the regency rollup only.

{%- set dimensions = smart_village_dimensions().split() %}

with

villages as (

    select * from {{ ref('dim_village') }}
    where is_current

),

activities as (

    select * from {{ ref('int_programmes__activity_dimensions') }}
    where location_level = 'village'

),

years as (

    select distinct programme_year as year
    from {{ ref('stg_programmes__activities') }}

),

needs as (

    select * from {{ ref('int_programmes__village_needs') }}

),

finance as (

    select * from {{ ref('mart_village_finance') }}

),

year_origins as (

    select * from {{ ref('int_programmes__year_origins') }}

),

money as (

    select
        village_code,
        programme_year as year,
        count(*) as programme_count,
        sum(budget_amount) filter (where actor = 'regency') as regency_budget,
        sum(budget_amount) filter (where actor = 'province') as province_budget,
        sum(budget_amount) filter (where actor = 'private') as private_budget,
        sum(budget_amount) as programme_budget,
        sum(realised_amount) as programme_realised,
        {% for dimension in dimensions -%}
            sum(budget_amount) filter (
                where dimension = '{{ dimension[0] | upper }}'
            ) as {{ dimension[0] }}_budget,
        {% endfor -%}
        sum(budget_amount) filter (where dimension is null) as unmapped_budget
    from activities
    group by village_code, programme_year

),

actors_per_dimension as (

    select
        village_code,
        programme_year as year,
        dimension,
        count(distinct actor) as actor_count
    from activities
    where dimension is not null
    group by village_code, programme_year, dimension

),

dimension_overlaps as (

    select
        village_code,
        year,
        count(*) filter (where actor_count > 1) as overlapping_dimension_count
    from actors_per_dimension
    group by village_code, year

),

village_years as (

    select
        villages.village_code,
        years.year,
        villages.village_name,
        villages.village_type,
        villages.district_code,
        villages.district_name,
        villages.regency_code,
        villages.regency_name,
        coalesce(money.programme_count, 0) as programme_count,
        coalesce(money.regency_budget, 0) as regency_programme_budget,
        coalesce(money.province_budget, 0) as province_programme_budget,
        coalesce(money.private_budget, 0) as private_programme_budget,
        coalesce(money.programme_budget, 0) as programme_budget,
        coalesce(money.programme_realised, 0) as programme_realised,
        finance.spending_budget as apbdes_spending_budget,
        finance.spending_realised as apbdes_spending_realised,
        {% for dimension in dimensions -%}
            coalesce(money.{{ dimension[0] }}_budget, 0) as {{ dimension }}_programme_budget,
        {% endfor -%}
        coalesce(money.unmapped_budget, 0) as unmapped_programme_budget,
        coalesce(dimension_overlaps.overlapping_dimension_count, 0) as overlapping_dimension_count,
        needs.smart_village_index,
        needs.category as smart_village_category,
        needs.weakest_dimension,
        needs.weakest_dimension_score,
        coalesce(needs.is_priority_desa, false) as is_priority_desa,
        coalesce(year_origins.data_origin, 'real') as data_origin
    from villages
    cross join years
    left join money
        on villages.village_code = money.village_code and years.year = money.year
    left join dimension_overlaps
        on
            villages.village_code = dimension_overlaps.village_code
            and years.year = dimension_overlaps.year
    left join finance
        on villages.village_code = finance.village_code and years.year = finance.year
    left join needs
        on villages.village_code = needs.village_code and years.year = needs.year
    left join year_origins on years.year = year_origins.year

),

final as (

    select
        village_code,
        year::integer as year,
        make_date(year::integer, 1, 1) as date,
        village_name,
        village_type,
        district_code,
        district_name,
        regency_code,
        regency_name,
        programme_count::integer as programme_count,
        regency_programme_budget,
        province_programme_budget,
        private_programme_budget,
        programme_budget,
        programme_realised,
        apbdes_spending_budget,
        apbdes_spending_realised,
        {% for dimension in dimensions -%}
            {{ dimension }}_programme_budget,
        {% endfor -%}
        unmapped_programme_budget,
        overlapping_dimension_count::integer as overlapping_dimension_count,
        smart_village_index,
        smart_village_category,
        weakest_dimension,
        weakest_dimension_score,
        case weakest_dimension
            {% for dimension in dimensions -%}
                when '{{ dimension[0] | upper }}' then {{ dimension }}_programme_budget
            {% endfor -%}
        end as weakest_dimension_programme_budget,
        is_priority_desa,
        data_origin
    from village_years

)

select * from final
