-- Each published village-year has all 50 indicator scores, and each village-year with
-- scores has its published index.

with

scores as (

    select
        village_code,
        year,
        count(*) as indicators
    from {{ ref('stg_idm__indicator_scores') }}
    group by village_code, year

),

published as (

    select
        village_code,
        year
    from {{ ref('stg_idm__published_index') }}

)

select
    coalesce(published.village_code, scores.village_code) as village_code,
    coalesce(published.year, scores.year) as idm_year,
    scores.indicators
from published
full outer join scores
    on
        published.village_code = scores.village_code
        and published.year = scores.year
where coalesce(scores.indicators, 0) <> 50 or published.village_code is null
