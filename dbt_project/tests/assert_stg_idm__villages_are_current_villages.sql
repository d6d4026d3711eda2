-- Every village of the IDM staging models is a current village of the region master.
-- Reads marts.dim_village by name, not by ref(): a ref would make this test a child of
-- dim_village, so the region master's own build (dbt build --select +dim_village) would
-- select it too and fail whenever the IDM staging models are absent. (dbt's relationships
-- test could not filter on is_current either.)

with

current_villages as (

    select village_code
    from marts.dim_village
    where is_current

),

idm_villages as (

    select village_code from {{ ref('stg_idm__published_index') }}
    union
    select village_code from {{ ref('stg_idm__indicator_scores') }}

)

select idm_villages.village_code
from idm_villages
left join current_villages
    on idm_villages.village_code = current_villages.village_code
where current_villages.village_code is null
