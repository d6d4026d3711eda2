-- Whether each year's programme figures are real or generated: every accepted delivery of
-- the year (the regencies' and the province's SIPD exports, the CSR export).

with

batches as (

    select distinct
        programme_year as year,
        batch_id
    from {{ ref('stg_programmes__activities') }}

),

final as (

    select
        batches.year,
        {{ data_origin_agg('load_batches.data_origin') }} as data_origin
    from batches
    inner join {{ ref('stg_audit__load_batches') }} as load_batches
        on batches.batch_id = load_batches.batch_id
    group by batches.year

)

select * from final
