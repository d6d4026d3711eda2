with

source as (

    select * from {{ source('audit', 'load_batches') }}

),

renamed as (

    select
        batch_id,
        source,
        dataset,
        partition_key,
        -- Sources delivered per regency name it in their partition: APBDes <regency>/<year>,
        -- IDM <year>/<kode_desa> (a village's file, so its regency).
        case
            when source = 'apbdes' and split_part(partition_key, '/', 1) ~ '^[0-9]{4}$'
                then split_part(partition_key, '/', 1)
            when source = 'idm' and split_part(partition_key, '/', 2) ~ '^[0-9]{10}$'
                then left(split_part(partition_key, '/', 2), 4)
        end as partition_regency_code,
        file_name,
        file_path,
        status,
        status_reason,
        data_origin,
        rows_received,
        rows_loaded,
        rows_quarantined,
        dag_id,
        run_id,
        received_at,
        loaded_at,
        validated_at,
        finished_at

    from source

)

select * from renamed
