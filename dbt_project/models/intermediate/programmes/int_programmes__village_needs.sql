-- Each scored desa-year of the Smart Village Index with its weakest dimension (the lowest
-- of the dimension scores it has; the first letter on a tie) and whether it is among the
-- desa that need programmes most: the lowest quarter of its regency's index that year.

with

scores as (

    select * from {{ ref('mart_smart_village') }}

),

dimensions as (

    select
        scores.village_code,
        scores.year,
        dimension_scores.dimension,
        dimension_scores.score,
        row_number() over (
            partition by scores.village_code, scores.year
            order by dimension_scores.score asc, dimension_scores.dimension asc
        ) as weakness_rank
    from scores
    cross join
        lateral (
            values
            {% for dimension in smart_village_dimensions().split() -%}
                ('{{ dimension[0] | upper }}', scores.{{ dimension }}){{ ',' if not loop.last }}
            {% endfor -%}
        ) as dimension_scores (dimension, score)
    where dimension_scores.score is not null

),

ranked as (

    select
        village_code,
        year,
        smart_village_index,
        category,
        case
            when smart_village_index is not null
                then
                    percent_rank() over (
                        partition by regency_code, year, smart_village_index is null
                        order by smart_village_index
                    )
        end as index_percent_rank
    from scores

),

final as (

    select
        ranked.village_code,
        ranked.year,
        ranked.smart_village_index,
        ranked.category,
        dimensions.dimension as weakest_dimension,
        dimensions.score as weakest_dimension_score,
        coalesce(ranked.index_percent_rank <= 0.25, false) as is_priority_desa
    from ranked
    left join dimensions
        on
            ranked.village_code = dimensions.village_code
            and ranked.year = dimensions.year
            and dimensions.weakness_rank = 1

)

select * from final
