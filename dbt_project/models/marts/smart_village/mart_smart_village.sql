-- The Smart Village Index of every desa and year: six dimension scores (A-F), each the
-- weighted mean of the indicators that had data, with its completeness (the share of the
-- dimension's catalogue weight that had data); the index, the mean of the dimensions that
-- had data, with its completeness (the mean of the six completenesses), published when
-- that completeness reaches the var smart_village_min_completeness (default 0.5); its
-- category by the IDM thresholds; dense ranks within the regency and the province; and the
-- change since the previous year. A missing indicator lowers completeness, never the score.
-- noqa: disable=RF04

{%- set dimensions = smart_village_dimensions().split() %}

with

spine as (

    select * from {{ ref('int_smart_village__village_years') }}

),

dimension_scores as (

    select * from {{ ref('int_smart_village__dimension_scores') }}

),

catalogue as (

    select * from {{ ref('int_smart_village__catalogue') }}

),

source_origins as (

    select * from {{ ref('int_smart_village__source_origins') }}

),

thresholds as (

    {{ idm_status_thresholds() }}

),

-- the six dimensions are fixed: they are the columns of this mart
dimensions as (

    select dimension
    from (
        values
        {% for dimension in dimensions -%}
            ('{{ dimension[0] | upper }}'){{ ',' if not loop.last }}
        {% endfor -%}
    ) as fixed (dimension)

),

dimension_weights as (

    select
        dimensions.dimension,
        sum(catalogue.weight) as total_weight
    from dimensions
    left join catalogue on dimensions.dimension = catalogue.dimension
    group by dimensions.dimension

),

methodology as (

    select max(methodology_version) as methodology_version
    from catalogue

),

-- the source families' sums added up: the weighted mean of the indicators that had data;
-- their weights are the catalogue's of this project, as are the totals' (a changed project
-- rescores every family)
available as (

    select
        village_code,
        year,
        dimension,
        sum(weighted_score_sum) / nullif(sum(weight_sum), 0) as score,
        sum(weight_sum) as available_weight,
        sum(indicator_count) as indicator_count
    from dimension_scores
    group by village_code, year, dimension

),

village_dimensions as (

    select
        spine.village_code,
        spine.year,
        dimension_weights.dimension,
        available.score,
        coalesce(available.available_weight / nullif(dimension_weights.total_weight, 0), 0)
            as completeness,
        coalesce(available.indicator_count, 0) as indicator_count
    from spine
    cross join dimension_weights
    left join available
        on
            spine.village_code = available.village_code
            and spine.year = available.year
            and dimension_weights.dimension = available.dimension

),

village_index as (

    select
        village_code,
        year,
        {% for dimension in dimensions -%}
            max(score) filter (where dimension = '{{ dimension[0] | upper }}') as {{ dimension }},
            max(completeness) filter (
                where dimension = '{{ dimension[0] | upper }}'
            ) as {{ dimension }}_completeness,
        {% endfor -%}
        count(score) as dimensions_with_data,
        sum(indicator_count) as indicators_with_data,
        avg(completeness) as completeness,
        avg(score) as smart_village_index
    from village_dimensions
    group by village_code, year

),

-- published figures have 4 decimals, like the IDM; category and ranks follow the
-- published index
rounded as (

    select
        village_code,
        year,
        {% for dimension in dimensions -%}
            {{ smart_village_round(dimension) }} as {{ dimension }},
            {{ smart_village_round(dimension ~ '_completeness') }} as {{ dimension }}_completeness,
        {% endfor -%}
        dimensions_with_data,
        indicators_with_data,
        {{ smart_village_round('completeness') }} as completeness,
        case
            when
                {{ smart_village_round('completeness') }}
                >= {{ var('smart_village_min_completeness', 0.5) }}
                then {{ smart_village_round('smart_village_index') }}
        end as smart_village_index
    from village_index

),

categorised as (

    select
        rounded.*,
        thresholds.status as category,
        thresholds.status_order as category_order
    from rounded
    left join thresholds
        on {{ idm_status_band('rounded.smart_village_index') }}

),

joined as (

    select
        spine.*,
        {% for dimension in dimensions -%}
            categorised.{{ dimension }},
            categorised.{{ dimension }}_completeness,
        {% endfor -%}
        categorised.dimensions_with_data,
        categorised.indicators_with_data,
        categorised.completeness,
        categorised.smart_village_index,
        categorised.category,
        categorised.category_order
    from spine
    inner join categorised
        on
            spine.village_code = categorised.village_code
            and spine.year = categorised.year

),

-- real or generated: the origins of the source families that gave the desa-year a value,
-- and of the survey response its population comes from
row_inputs as (

    select
        used.village_code,
        used.year,
        source_origins.data_origin
    from (
        select distinct
            village_code,
            year,
            source_family
        from dimension_scores
    ) as used
    inner join source_origins
        on
            used.village_code = source_origins.village_code
            and used.year = source_origins.year
            and used.source_family = source_origins.source_family
    union all
    select
        spine.village_code,
        spine.year,
        source_origins.data_origin
    from spine
    inner join source_origins
        on
            spine.village_code = source_origins.village_code
            and spine.population_year = source_origins.year
            and source_origins.source_family = 'survey'

),

origins as (

    select
        village_code,
        year,
        {{ data_origin_agg('data_origin') }} as data_origin
    from row_inputs
    group by village_code, year

),

with_origin as (

    select
        joined.*,
        coalesce(origins.data_origin, 'real') as data_origin
    from joined
    left join origins
        on
            joined.village_code = origins.village_code
            and joined.year = origins.year

),

-- only desa with an index are ranked: ties share a rank, and ranks have no gaps
village_ranks as (

    select
        village_code,
        year,
        dense_rank() over (
            partition by year, regency_code order by smart_village_index desc
        ) as rank_in_regency,
        dense_rank() over (
            partition by year, province_code order by smart_village_index desc
        ) as rank_in_province
    from joined
    where smart_village_index is not null

),

ranked as (

    select
        with_origin.*,
        village_ranks.rank_in_regency,
        village_ranks.rank_in_province
    from with_origin
    left join village_ranks
        on
            with_origin.village_code = village_ranks.village_code
            and with_origin.year = village_ranks.year

),

with_previous as (

    select
        ranked.*,
        previous.smart_village_index as previous_year_index,
        previous.category as previous_year_category,
        previous.data_origin as previous_year_data_origin
    from ranked
    left join ranked as previous
        on
            ranked.village_code = previous.village_code
            and ranked.year = previous.year + 1

),

final as (

    select
        with_previous.village_code::text as village_code,
        with_previous.year::integer as year,
        make_date(with_previous.year::integer, 1, 1) as date,
        with_previous.village_name::text as village_name,
        with_previous.district_code::text as district_code,
        with_previous.district_name::text as district_name,
        with_previous.regency_code::text as regency_code,
        with_previous.regency_name::text as regency_name,
        with_previous.province_code::text as province_code,
        with_previous.province_name::text as province_name,
        methodology.methodology_version::text as methodology_version,
        {% for dimension in dimensions -%}
            with_previous.{{ dimension }}::numeric as {{ dimension }},
            with_previous.{{ dimension }}_completeness::numeric as {{ dimension }}_completeness,
        {% endfor -%}
        with_previous.dimensions_with_data::integer as dimensions_with_data,
        with_previous.indicators_with_data::integer as indicators_with_data,
        with_previous.completeness::numeric as completeness,
        with_previous.smart_village_index::numeric as smart_village_index,
        with_previous.category::text as category,
        with_previous.category_order::integer as category_order,
        with_previous.rank_in_regency::integer as rank_in_regency,
        with_previous.rank_in_province::integer as rank_in_province,
        with_previous.previous_year_index::numeric as previous_year_index,
        (with_previous.smart_village_index - with_previous.previous_year_index)::numeric
            as index_change,
        with_previous.previous_year_category::text as previous_year_category,
        with_previous.population::bigint as population,
        with_previous.population_year::integer as population_year,
        -- the change since the previous year also stands on that year's inputs
        case
            when
                with_previous.previous_year_index is null
                or with_previous.previous_year_data_origin = with_previous.data_origin
                then with_previous.data_origin
            else 'mixed'
        end::text as data_origin
    from with_previous
    cross join methodology

)

select * from final
