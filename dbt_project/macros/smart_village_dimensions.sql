{#
    The six Smart Village dimensions, fixed (they are columns of mart_smart_village): the
    names of their columns, A to F, separated by spaces; a dimension's catalogue letter is
    its name's first letter, upper-cased. Callers split the text
    (`smart_village_dimensions().split()`): a list by return() would not lint, as SQLFluff's
    templater does not evaluate return().
#}
{% macro smart_village_dimensions() -%}
    a_institution b_infrastructure c_service_delivery d_technology_innovation e_societies f_economy
{%- endmacro %}
