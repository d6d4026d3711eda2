{#
    The body of an IDM staging model (stg_idm__indicator_scores, stg_idm__published_index):
    the rows of one raw IDM table that come from the winning batch of their village-year
    (stg_idm__batches), with its village code and year, then the caller block's columns, then
    the batch id (and, with row_number, the row's number in the batch).
#}
{% macro idm_staging(table, row_number=true) -%}
with

batches as (

    select
        batch_id,
        village_code,
        year
    from {{ ref('stg_idm__batches') }}

),

source as (

    select * from {{ source('idm', table) }}

),

renamed as (

    select
        batches.village_code,
        batches.year,
        {{ caller() }}
        source._batch_id as batch_id{{ ', source._row_number as source_row_number' if row_number }}

    from source
    inner join batches on source._batch_id = batches.batch_id

)

select * from renamed
{%- endmacro %}


{#
    An IDM API number given as text: the number, or null where the text is not one (the API
    writes '-' or leaves it blank).
#}
{% macro idm_number(column) -%}
    case
        when trim({{ column }}) ~ '^-?[0-9]+(\.[0-9]+)?$'
            then cast(trim({{ column }}) as numeric)
    end
{%- endmacro %}
