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

    {{ year_origins_of_batches() }}

)

select * from final
