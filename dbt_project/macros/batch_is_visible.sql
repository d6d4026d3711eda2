{#- The condition of a batch dbt may read: accepted by the gate and released to dbt
    (lumbung.visibility) at or below the pin of the build, audit.dbt_pin (one scalar
    subquery, evaluated once per query); without a pin, every released batch. -#}
{% macro batch_is_visible(relation=none, pinned=true) -%}
    {%- set prefix = relation ~ '.' if relation else '' -%}
    {{ prefix }}status = 'validated'
    {%- if pinned %}
    and {{ prefix }}visible_seq <= coalesce(
        (select pin.visible_seq from audit.dbt_pin as pin), 9223372036854775807
    )
    {%- else %}
    and {{ prefix }}visible_seq is not null
    {%- endif %}
{%- endmacro %}

{#- The from and where clauses of a staging model's batches: the batches of one dataset of
    one source in audit.load_batches that dbt may read (batch_is_visible). -#}
{% macro from_visible_batches(source_name, dataset) -%}
    from {{ source('audit', 'load_batches') }}
    where
        source = '{{ source_name }}'
        and dataset = '{{ dataset }}'
        and {{ batch_is_visible() }}
{%- endmacro %}
