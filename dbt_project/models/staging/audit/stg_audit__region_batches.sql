with

source as (

    select * from {{ source('audit', 'load_batches') }}

),

validated as (

    select
        batch_id,
        -- the synthetic supplement (synthetic_districts, synthetic_villages) extends the
        -- dataset it names: same dataset, flagged
        regexp_replace(dataset, '^synthetic_', '') as dataset,
        dataset like 'synthetic\_%' as is_synthetic,
        partition_key as edition,
        file_name,
        content_hash,
        rows_loaded,
        validated_at,
        row_number() over (
            partition by dataset, partition_key
            order by batch_id desc
        ) as recency_rank
    from source
    where
        source = 'region'
        and {{ batch_is_visible(pinned=false) }}

),

winning as (

    select
        batch_id,
        dataset,
        is_synthetic,
        edition,
        file_name,
        content_hash,
        rows_loaded,
        validated_at
    from validated
    where recency_rank = 1

)

select * from winning
