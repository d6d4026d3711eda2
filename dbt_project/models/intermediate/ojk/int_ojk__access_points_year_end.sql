-- Access points are a stock at the end of each reported month: a year's position is that of
-- its latest reported month (never a sum over months). Reports are complete for their
-- month, so an area absent from the year-end report has none.

with

access_points as (

    select * from {{ ref('stg_ojk__access_points') }}

),

year_ends as (

    select
        extract(year from period_month)::integer as access_year,
        max(period_month) as period_month
    from access_points
    group by extract(year from period_month)::integer

),

final as (

    select
        year_ends.access_year,
        year_ends.period_month,
        access_points.area_level,
        access_points.area_code,
        access_points.district_code,
        access_points.access_type,
        sum(access_points.point_count) as point_count,
        count(distinct access_points.bank_name) filter (
            where access_points.point_count > 0
        ) as bank_count
    from access_points
    inner join year_ends on access_points.period_month = year_ends.period_month
    group by
        year_ends.access_year,
        year_ends.period_month,
        access_points.area_level,
        access_points.area_code,
        access_points.district_code,
        access_points.access_type

)

select * from final
