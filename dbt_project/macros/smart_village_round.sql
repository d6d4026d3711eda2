{#
    A published Smart Village figure: rounded to 4 decimals like the IDM, trailing zeros
    trimmed (0.5, not 0.5000), so that the same number always reads the same.
#}
{% macro smart_village_round(expression) -%}
    trim_scale(round(({{ expression }})::numeric, 4))
{%- endmacro %}
