-- Whether each year's OJK figures are real or generated: the access report of the year's
-- latest reported month and the year's quarterly KUR reports. Each report covers the whole
-- province (an area absent from it has none), so every village's year rests on all of them.
-- A table: int_smart_village__source_origins reads it at every Smart Village rebuild, also
-- when no OJK report changed, and as a view each read goes through every OJK report again.

{{ config(materialized='table') }}

with

year_ends as (

    select distinct
        access_year as year,
        period_month
    from {{ ref('int_ojk__access_points_year_end') }}

),

access_batches as (

    select distinct
        year_ends.year,
        access_points.batch_id
    from {{ ref('stg_ojk__access_points') }} as access_points
    inner join year_ends on access_points.period_month = year_ends.period_month

),

kur_batches as (

    select distinct
        kur_year as year,
        batch_id
    from {{ ref('stg_ojk__kur_district_quarter') }}

),

batches as (

    select
        year,
        batch_id
    from access_batches
    union
    select
        year,
        batch_id
    from kur_batches

),

final as (

    {{ year_origins_of_batches() }}

)

select * from final
