-- The batch dbt uses for each village-year: of the validated IDM batches of one desa and
-- year (a re-fetched response is a new batch), the greatest batch_id wins.

with

batches as (

    select * from {{ source('audit', 'load_batches') }}

),

responses as (

    select
        _batch_id,
        kode_desa,
        tahun
    from {{ source('idm', 'idm_summaries') }}

),

validated as (

    select
        batches.batch_id,
        responses.kode_desa as village_code,
        cast(responses.tahun as integer) as year,  -- noqa: RF04
        batches.file_name,
        batches.content_hash,
        batches.validated_at,
        row_number() over (
            partition by responses.kode_desa, responses.tahun
            order by batches.batch_id desc
        ) as recency_rank
    from batches
    inner join responses on batches.batch_id = responses._batch_id
    where
        batches.source = 'idm'
        and batches.dataset = 'idm'
        and {{ batch_is_visible('batches') }}

),

winning as (

    select
        batch_id,
        village_code,
        year,
        file_name,
        content_hash,
        validated_at
    from validated
    where recency_rank = 1

)

select * from winning
