-- The IDM as Kemendesa published it for each desa and year: the IKS, IKE, IKL and IDM
-- index rows, the status, and the target of the next class. Published values are kept as
-- published, even where they do not follow from the indicator scores (the gate warns).

with

batches as (

    select
        batch_id,
        village_code,
        year
    from {{ ref('stg_idm__batches') }}

),

source as (

    select * from {{ source('idm', 'idm_summaries') }}

),

renamed as (

    select
        batches.village_code,
        batches.year,
        nullif(trim(source.nama_desa), '') as village_name,

        -- published indices
        cast(trim(source.iks) as numeric) as iks,
        cast(trim(source.ike) as numeric) as ike,
        cast(trim(source.ikl) as numeric) as ikl,
        cast(trim(source.idm) as numeric) as idm,
        initcap(lower(trim(source.status_idm))) as status,

        -- target of the next class
        initcap(lower(trim(source.target_status))) as target_status,
        case
            when trim(source.skor_minimal) ~ '^-?[0-9]+(\.[0-9]+)?$'
                then cast(trim(source.skor_minimal) as numeric)
        end as target_min_idm,
        case
            when trim(source.penambahan) ~ '^-?[0-9]+(\.[0-9]+)?$'
                then cast(trim(source.penambahan) as numeric)
        end as idm_gap_to_target,

        source._batch_id as batch_id

    from source
    inner join batches on source._batch_id = batches.batch_id

)

select * from renamed
