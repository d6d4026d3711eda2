-- The IDM classes cover every value once: ranked by status_order, the lowest class is open
-- below, the highest open above, and each class starts where the one below it ends.

with

thresholds as (

    select
        status,
        status_order,
        min_exclusive,
        max_inclusive,
        lag(max_inclusive) over (order by status_order) as below_max_inclusive,
        row_number() over (order by status_order) as class_rank,
        count(*) over () as classes
    from {{ ref('ref_idm_status_thresholds') }}

)

select
    status,
    status_order,
    min_exclusive,
    max_inclusive
from thresholds
where
    (class_rank = 1 and min_exclusive is not null)
    or (class_rank = classes and max_inclusive is not null)
    or (class_rank > 1 and min_exclusive is distinct from below_max_inclusive)
    or min_exclusive >= max_inclusive
