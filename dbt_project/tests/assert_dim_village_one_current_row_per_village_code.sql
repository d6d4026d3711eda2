-- Every village of the current edition has exactly one current version in dim_village,
-- and no village outside the current edition has one.

with

current_edition_villages as (

    select village_editions.village_code
    from {{ ref('int_kemendagri__village_editions') }} as village_editions
    inner join {{ ref('int_kemendagri__editions') }} as editions
        on village_editions.edition = editions.edition
    where editions.is_latest

),

current_versions as (

    select
        village_code,
        count(*) as n_current
    from {{ ref('dim_village') }}
    where is_current
    group by village_code

)

select
    coalesce(current_edition_villages.village_code, current_versions.village_code)
        as village_code,
    coalesce(current_versions.n_current, 0) as n_current,
    current_edition_villages.village_code is not null as in_current_edition
from current_edition_villages
full outer join current_versions
    on current_edition_villages.village_code = current_versions.village_code
where
    current_edition_villages.village_code is null
    or coalesce(current_versions.n_current, 0) <> 1
