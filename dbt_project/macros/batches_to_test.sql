{#- The rows of a staging model (stg_<source>__<entity>, with a batch_id column) or of an
    intermediate model kept by submission (int_<source>__<entity>, with the column
    `batch_column`) that the build's tests check: those of the source's batches released
    after audit.dbt_pin's tested_after, up to the pin (a selective rebuild: the last
    published build tested the others with the same project and region master;
    lumbung.rebuild_plan); every row when tested_after is null. Read at run time, so the
    filter is a literal list that PostgreSQL pushes down to the raw tables' primary key. -#}
{% macro batches_to_test(relation, batch_column='batch_id') -%}
    {%- if not execute -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set source_name = relation.identifier.split('__')[0][4:] -%}
    {%- if not relation.identifier[:4] in ('stg_', 'int_') or not source_name -%}
        {{ exceptions.raise_compiler_error(
            'batches_to_test reads a model stg_<source>__<entity> or int_<source>__<entity>, '
            ~ 'not ' ~ relation.identifier) }}
    {%- endif -%}
    {#- one query: the scope, and the batches in it ("" for none) -#}
    {%- set query -%}
        select
            pin.tested_after,
            (
                select coalesce(string_agg(batch.batch_id::text, ', ' order by batch.batch_id), '')
                from audit.load_batches as batch
                where
                    batch.source = '{{ source_name }}'
                    and batch.visible_seq > pin.tested_after
                    and {{ batch_is_visible('batch') }}
            ) as batch_ids
        from audit.dbt_pin as pin
    {%- endset -%}
    {#- no pin yet (no build has read the batches, e.g. `dbt docs generate` after the region
        build alone): every row -#}
    {%- set rows = run_query(query).rows -%}
    {%- set scope = rows[0] if rows | length > 0 else none -%}
    {%- if scope is none or scope[0] is none -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set batch_ids = scope[1].split(', ') | reject('equalto', '') | list -%}
    {%- set filtered -%}
        (select * from {{ relation }} where {{ batch_filter(batch_column, batch_ids) }}) dbt_subquery
    {%- endset -%}
    {{ return(filtered) }}
{%- endmacro %}


{#- dbt's get_where_subquery (the relation a generic test reads), where the where config
    __batches_to_test__ (dbt_project.yml) stands for batches_to_test, on the column
    batch_id or the one it names (__batches_to_test:submission_batch_id__), and
    __written_by_this_build__ for written_by_this_build (smart_village_families.sql). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') or '' -%}
    {%- if where.startswith('__batches_to_test') and where.endswith('__') -%}
        {{ return(batches_to_test(relation, where[17:-2].lstrip(':') or 'batch_id')) }}
    {%- endif -%}
    {%- if where == '__written_by_this_build__' -%}
        {{ return(written_by_this_build(relation)) }}
    {%- endif -%}
    {{ return(adapter.dispatch('get_where_subquery', 'dbt')(relation)) }}
{%- endmacro %}


{#- A where-clause condition keeping the rows of the given batches: `<column> in (...)`, or
    `false` for none (an incremental run with nothing new inserts nothing). -#}
{% macro batch_filter(column, batch_ids) -%}
    {%- if batch_ids | length > 0 -%}
        {{ column }} in ({{ batch_ids | join(', ') }})
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}
