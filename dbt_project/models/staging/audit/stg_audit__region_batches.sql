with

source as (

    select * from {{ source('audit', 'load_batches') }}

),

validated as (

    select
        batch_id,
        dataset,
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
        source = 'kemendagri_region'
        and status = 'validated'

),

winning as (

    select
        batch_id,
        dataset,
        edition,
        file_name,
        content_hash,
        rows_loaded,
        validated_at
    from validated
    where recency_rank = 1

)

select * from winning
