-- The versions of a village follow each other without overlapping: only the last one may
-- be open, and each one ends no later than the next one starts.

with

versions as (

    select
        village_code,
        village_key,
        valid_from,
        valid_to,
        lead(valid_from) over (
            partition by village_code
            order by valid_from
        ) as next_valid_from
    from {{ ref('dim_village') }}

)

select *
from versions
where
    next_valid_from is not null
    and (valid_to is null or valid_to > next_valid_from)
