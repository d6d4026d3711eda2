with

batches as (

    select
        batch_id,
        edition,
        is_synthetic
    from {{ ref('stg_audit__region_batches') }}
    where dataset = 'districts'

),

source as (

    select * from {{ source('kemendagri', 'kemendagri_districts') }}

),

renamed as (

    select
        batches.edition,
        batches.is_synthetic,
        source._batch_id as batch_id,
        source._row_number as source_row_number,

        -- codes
        regexp_replace(source.code_10, '[^0-9]', '', 'g') as district_code,
        trim(source.code) as district_code_dotted,
        regexp_replace(source.parent_code, '[^0-9]', '', 'g') as regency_code,
        left(regexp_replace(source.code_10, '[^0-9]', '', 'g'), 2) as province_code,

        -- attributes
        trim(regexp_replace(source.name, '\s+', ' ', 'g')) as district_name,
        nullif(trim(source.lat_centroid), '')::numeric as lat,
        nullif(trim(source.lng_centroid), '')::numeric as lng

    from source
    inner join batches on source._batch_id = batches.batch_id

)

select * from renamed
