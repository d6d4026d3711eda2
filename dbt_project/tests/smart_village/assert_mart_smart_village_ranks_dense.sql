-- Ranks of mart_smart_village are dense and complete: within every regency (and the
-- province) and year, the desa with an index are ranked 1, 2, ... up to the number of
-- distinct index values, without gaps, equal indexes sharing a rank.
-- noqa: disable=RF04

with

ranked as (

    select * from {{ ref('mart_smart_village') }}
    where smart_village_index is not null

),

areas as (

    select
        'regency' as area_level,
        regency_code as area_code,
        year,
        min(rank_in_regency) as min_rank,
        max(rank_in_regency) as max_rank,
        count(distinct rank_in_regency) as distinct_ranks,
        count(distinct smart_village_index) as distinct_values
    from ranked
    group by regency_code, year
    union all
    select
        'province' as area_level,
        province_code as area_code,
        year,
        min(rank_in_province) as min_rank,
        max(rank_in_province) as max_rank,
        count(distinct rank_in_province) as distinct_ranks,
        count(distinct smart_village_index) as distinct_values
    from ranked
    group by province_code, year

)

select * from areas
where not (min_rank = 1 and max_rank = distinct_ranks and distinct_ranks = distinct_values)
