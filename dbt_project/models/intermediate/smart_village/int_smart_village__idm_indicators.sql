-- Smart Village indicator values from the IDM: every IDM indicator score the catalogue
-- names (field `IKS 28`, `IKE 12`, ...), 0-5 as published. Adding an IDM indicator to the
-- catalogue needs no change here. Grain: one row per (village_code, year, indicator_id).
-- A table, as for each source's values: an APBDes resubmission's rebuild reads it as it is.
-- noqa: disable=RF04

{{ config(materialized='table') }}

with

measures as (

    select
        village_code,
        year,
        dimension || ' ' || indicator_no as field,
        score as raw_value
    from {{ ref('stg_idm__indicator_scores') }}

),

{{ smart_village_indicator_values('idm') }}
