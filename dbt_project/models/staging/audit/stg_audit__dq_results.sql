with

source as (

    select * from {{ source('audit', 'dq_results') }}

),

renamed as (

    select
        dq_run_id,
        rule,
        expectation,
        column_name,
        severity,
        success,
        unexpected_count,
        observed_value,
        examples,
        detail

    from source

)

select * from renamed
