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


{#
    Select: the data origin of each row of a staging relation with village_code and a year,
    as one source family's input (village_code, year, source_family, data_origin), from the
    row's batch in the model's `load_batches` CTE (batch_id, data_origin).
#}
{% macro village_year_origins(relation, year_column, source_family) -%}
    select
        batch_rows.village_code,
        batch_rows.{{ year_column }} as year,
        '{{ source_family }}' as source_family,
        load_batches.data_origin
    from {{ relation }} as batch_rows
    inner join load_batches on batch_rows.batch_id = load_batches.batch_id
{%- endmacro %}


{#
    Select: the data origin of each year of a source family's figures, from the model's
    `batches` CTE (year, batch_id: the accepted deliveries each year rests on).
#}
{% macro year_origins_of_batches() -%}
    select
        batches.year,
        {{ data_origin_agg('load_batches.data_origin') }} as data_origin
    from batches
    inner join {{ ref('stg_audit__load_batches') }} as load_batches
        on batches.batch_id = load_batches.batch_id
    group by batches.year
{%- endmacro %}
