{#
    The end of a Smart Village indicator-values model (int_smart_village__<source>_indicators),
    after its `measures` CTE (village_code, year, field, raw_value): each measure the
    catalogue names for the source family, by its `field`, as that indicator's raw value,
    trailing zeros trimmed. A missing value gives no row (missing, never a zero).
    Grain: one row per (village_code, year, indicator_id).
#}
{% macro smart_village_indicator_values(source_family) -%}
catalogue as (

    select
        indicator_id,
        field
    from {{ ref('int_smart_village__catalogue') }}
    where source = '{{ source_family }}'

),

final as (

    select
        measures.village_code,
        measures.year,
        catalogue.indicator_id,
        -- trailing zeros trimmed: 0.8, not 0.80000000000000000000
        trim_scale(measures.raw_value) as raw_value
    from measures
    inner join catalogue on measures.field = catalogue.field
    where measures.raw_value is not null

)

select * from final
{%- endmacro %}
