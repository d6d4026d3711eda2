with

source as (

    select * from {{ source('audit', 'load_batches') }}

),

validated as (

    select
        batch_id,
        partition_key,
        split_part(partition_key, '/', 1) as regency_code,
        split_part(partition_key, '/', 2)::integer as fiscal_year,
        dataset as submission_format,
        file_name,
        coalesce(substring(file_name from '_rev([0-9]+)\.[A-Za-z]+$')::integer, 0) as revision,
        rows_loaded,
        validated_at
    from source
    where
        source = 'apbdes'
        and dataset in ('siskeudes', 'flat')
        and {{ batch_is_visible() }}

),

ranked as (

    select
        validated.*,
        row_number() over (
            partition by validated.partition_key
            order by validated.revision desc, validated.batch_id desc
        ) as recency_rank
    from validated

),

winning as (

    select
        batch_id,
        regency_code,
        fiscal_year,
        submission_format,
        file_name,
        revision,
        rows_loaded,
        validated_at
    from ranked
    where recency_rank = 1

)

select * from winning
