-- Smart Village indicator values of every source in one long table, as read from the
-- source and not yet scored. A new source family adds its int_smart_village__<source>_
-- indicators model here. Grain: one row per (village_code, year, indicator_id).
-- noqa: disable=RF04

with

unioned as (

    select
        village_code,
        year,
        indicator_id,
        raw_value,
        'idm' as source_family
    from {{ ref('int_smart_village__idm_indicators') }}
    union all
    select
        village_code,
        year,
        indicator_id,
        raw_value,
        'survey' as source_family
    from {{ ref('int_smart_village__survey_indicators') }}
    union all
    select
        village_code,
        year,
        indicator_id,
        raw_value,
        'apbdes' as source_family
    from {{ ref('int_smart_village__apbdes_indicators') }}
    union all
    select
        village_code,
        year,
        indicator_id,
        raw_value,
        'bumdes' as source_family
    from {{ ref('int_smart_village__bumdes_indicators') }}
    union all
    select
        village_code,
        year,
        indicator_id,
        raw_value,
        'ojk' as source_family
    from {{ ref('int_smart_village__ojk_indicators') }}

),

final as (

    select
        village_code::text as village_code,
        year::integer as year,
        indicator_id::text as indicator_id,
        raw_value::numeric as raw_value,
        source_family
    from unioned

)

select * from final
