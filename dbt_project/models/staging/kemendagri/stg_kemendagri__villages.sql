with

batches as (

    select
        batch_id,
        edition,
        is_synthetic
    from {{ ref('stg_audit__region_batches') }}
    where dataset = 'villages'

),

source as (

    select * from {{ source('kemendagri', 'kemendagri_villages') }}

),

renamed as (

    select
        batches.edition,
        batches.is_synthetic,
        source._batch_id as batch_id,
        source._row_number as source_row_number,

        -- codes
        regexp_replace(source.code_10, '[^0-9]', '', 'g') as village_code,
        trim(source.code) as village_code_dotted,
        regexp_replace(source.parent_code, '[^0-9]', '', 'g') as district_code,
        regexp_replace(source.regency_code, '[^0-9]', '', 'g') as regency_code,
        left(regexp_replace(source.code_10, '[^0-9]', '', 'g'), 2) as province_code,

        -- attributes
        trim(regexp_replace(source.name, '\s+', ' ', 'g')) as village_name,
        lower(trim(source.type)) as village_type,
        nullif(trim(source.lat_centroid), '')::numeric as lat,
        nullif(trim(source.lng_centroid), '')::numeric as lng

    from source
    inner join batches on source._batch_id = batches.batch_id

)

select * from renamed
