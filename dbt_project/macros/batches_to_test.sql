{#- The rows of a staging model (stg_<source>__<entity>, with a batch_id column) that the
    build's tests check: those of the source's batches released after audit.dbt_pin's
    tested_after, up to the pin (a selective rebuild: the last published build tested the
    others with the same project and region master; lumbung.rebuild_plan); every row when
    tested_after is null. Read at run time, so the filter is a literal list that
    PostgreSQL pushes down to the raw tables' primary key. -#}
{% macro batches_to_test(relation) -%}
    {%- if not execute -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set source_name = relation.identifier.split('__')[0][4:] -%}
    {%- if not relation.identifier.startswith('stg_') or not source_name -%}
        {{ exceptions.raise_compiler_error(
            'batches_to_test reads a staging model stg_<source>__<entity>, not '
            ~ relation.identifier) }}
    {%- endif -%}
    {%- set tested_after = run_query(
        'select tested_after from audit.dbt_pin').columns[0].values() | first -%}
    {%- if tested_after is none -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set query -%}
        select batch.batch_id
        from audit.load_batches as batch
        where
            batch.source = '{{ source_name }}'
            and batch.visible_seq > {{ tested_after }}
            and {{ batch_is_visible('batch') }}
        order by batch.batch_id
    {%- endset -%}
    {%- set batch_ids = run_query(query).columns[0].values() | map('int') | list -%}
    {%- set filtered -%}
        (select * from {{ relation }} where {{ apbdes_batch_filter('batch_id', batch_ids) }}) dbt_subquery
    {%- endset -%}
    {{ return(filtered) }}
{%- endmacro %}


{#- dbt's get_where_subquery (the relation a generic test reads), where the where config
    __batches_to_test__ (dbt_project.yml) stands for batches_to_test. -#}
{% macro get_where_subquery(relation) -%}
    {%- if config.get('where', '') == '__batches_to_test__' -%}
        {{ return(batches_to_test(relation)) }}
    {%- endif -%}
    {{ return(adapter.dispatch('get_where_subquery', 'dbt')(relation)) }}
{%- endmacro %}
