-- Smart Village indicator values of every source in one long table, as read from the
-- source and not yet scored. A new source family adds its int_smart_village__<source>_
-- indicators model and its name to the macro smart_village_source_families.
-- Grain: one row per (village_code, year, indicator_id).
-- noqa: disable=RF04

with

unioned as (

    {% for source_family in smart_village_source_families().split() %}
        select
            village_code,
            year,
            indicator_id,
            raw_value,
            '{{ source_family }}' as source_family
        from {{ ref('int_smart_village__' ~ source_family ~ '_indicators') }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

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
