with

batches as (

    select
        batch_id,
        edition
    from {{ ref('stg_audit__region_batches') }}
    where dataset = 'regencies'

),

source as (

    select * from {{ source('kemendagri', 'kemendagri_regencies') }}

),

renamed as (

    select
        batches.edition,
        source._batch_id as batch_id,
        source._row_number as source_row_number,

        -- codes
        regexp_replace(source.code_10, '[^0-9]', '', 'g') as regency_code,
        trim(source.code) as regency_code_dotted,
        regexp_replace(source.parent_code, '[^0-9]', '', 'g') as province_code,

        -- attributes
        trim(regexp_replace(source.name, '\s+', ' ', 'g')) as regency_name,
        lower(trim(source.type)) as regency_type,
        nullif(trim(source.luas_km2_big2024), '')::numeric as area_km2,
        nullif(trim(source.penduduk_laki), '')::bigint as population_male,
        nullif(trim(source.penduduk_perempuan), '')::bigint as population_female,
        nullif(trim(source.penduduk_total_dukcapil_2024s2), '')::bigint as population_total,
        nullif(trim(source.lat_centroid), '')::numeric as lat,
        nullif(trim(source.lng_centroid), '')::numeric as lng

    from source
    inner join batches on source._batch_id = batches.batch_id

)

select * from renamed
