{#
    The body of a Kemendagri region staging model (stg_kemendagri__regencies, __districts,
    __villages): the rows of one dataset's winning region batches (stg_audit__region_batches),
    typed and renamed. Every level has the same code columns (its 10-digit code, the dotted
    code, its parent's code) and centroid; what only the level has comes from the caller
    block, between the codes and the centroid.
    dataset: 'regencies', 'districts' or 'villages'; level and parent_level: the prefixes of
    the code columns ('regency' and 'province', ...). Regencies have no synthetic supplement.
#}
{% macro kemendagri_region_staging(dataset, level, parent_level) -%}
with

batches as (

    select
        batch_id,
        edition,
        is_synthetic
    from {{ ref('stg_audit__region_batches') }}
    where dataset = '{{ dataset }}'

),

source as (

    select * from {{ source('kemendagri', 'kemendagri_' ~ dataset) }}

),

renamed as (

    select
        batches.edition,
        {{ 'batches.is_synthetic,' if dataset != 'regencies' }}
        source._batch_id as batch_id,
        source._row_number as source_row_number,

        -- codes
        regexp_replace(source.code_10, '[^0-9]', '', 'g') as {{ level }}_code,
        trim(source.code) as {{ level }}_code_dotted,
        regexp_replace(source.parent_code, '[^0-9]', '', 'g') as {{ parent_level }}_code,
        {{ caller() }}
        nullif(trim(source.lat_centroid), '')::numeric as lat,
        nullif(trim(source.lng_centroid), '')::numeric as lng

    from source
    inner join batches on source._batch_id = batches.batch_id

)

select * from renamed
{%- endmacro %}
