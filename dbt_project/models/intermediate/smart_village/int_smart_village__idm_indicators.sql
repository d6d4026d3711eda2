-- Smart Village indicator values from the IDM: every IDM indicator score the catalogue
-- names (field `IKS 28`, `IKE 12`, ...), 0-5 as published. Adding an IDM indicator to the
-- catalogue needs no change here. Grain: one row per (village_code, year, indicator_id).
-- A table, as for each source's values: an APBDes resubmission's rebuild reads it as it is.
-- noqa: disable=RF04

{{ config(materialized='table') }}

with

catalogue as (

    select
        indicator_id,
        field
    from {{ ref('int_smart_village__catalogue') }}
    where source = 'idm'

),

scores as (

    select
        village_code,
        year,
        dimension || ' ' || indicator_no as field,
        score
    from {{ ref('stg_idm__indicator_scores') }}

),

final as (

    select
        scores.village_code,
        scores.year,
        catalogue.indicator_id,
        trim_scale(scores.score) as raw_value
    from scores
    inner join catalogue on scores.field = catalogue.field
    where scores.score is not null

)

select * from final
