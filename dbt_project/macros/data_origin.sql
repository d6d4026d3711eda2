{#
    Aggregate: the data origin of a row made of inputs whose origins are in `column`
    (`real` or `generated`, or an already combined `mixed`): `real` when all are real,
    `generated` when all are generated, `mixed` otherwise. Nulls (no batch) are ignored;
    a row with no input batch at all stands on the real region master only: `real`.
#}
{% macro data_origin_agg(column) -%}
    case
        when count({{ column }}) = 0 or bool_and({{ column }} = 'real') then 'real'
        when bool_and({{ column }} = 'generated') then 'generated'
        else 'mixed'
    end
{%- endmacro %}
