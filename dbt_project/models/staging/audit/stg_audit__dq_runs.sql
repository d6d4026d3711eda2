with

source as (

    select * from {{ source('audit', 'dq_runs') }}

),

renamed as (

    select
        dq_run_id,
        checked_at,
        layer,
        source,
        dataset,
        suite,
        batch_id,
        partition_key,
        regency_code,
        dag_id,
        run_id,
        passed,
        expectations_evaluated,
        critical_failures,
        warnings,
        message,
        docs_url

    from source

)

select * from renamed
