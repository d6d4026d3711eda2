{#
    A published Smart Village figure: rounded to 4 decimals like the IDM, trailing zeros
    trimmed (0.5, not 0.5000), so that the same number always reads the same.
#}
{% macro smart_village_round(expression) -%}
    trim_scale(round(({{ expression }})::numeric, 4))
{%- endmacro %}


{#
    The IDM status thresholds (seed ref_idm_status_thresholds), typed, for a CTE of the IDM
    classes: mart_idm looks the published and recomputed IDM up in it, the Smart Village
    models their category (with idm_status_band).
#}
{% macro idm_status_thresholds() -%}
    select
        status,
        status_order::integer as status_order,
        min_exclusive::numeric as min_exclusive,
        max_inclusive::numeric as max_inclusive
    from {{ ref('ref_idm_status_thresholds') }}
{%- endmacro %}


{#
    Join condition: the value lies in the band of the `thresholds` row (above its
    min_exclusive, at most its max_inclusive; the open ends of the first and last band are
    taken as -1 and 2, beyond any 0-1 index).
#}
{% macro idm_status_band(value) -%}
    {{ value }} > coalesce(thresholds.min_exclusive, -1)
    and {{ value }} <= coalesce(thresholds.max_inclusive, 2)
{%- endmacro %}
