{#
    Views are replaced in place (`create or replace view`), not swapped by rename and
    `drop ... cascade` like dbt's default: rebuilding a staging view (every source DAG does)
    then keeps the intermediate views built on it, instead of dropping them until the marts
    DAG rebuilds them. PostgreSQL replaces a view when its columns keep their names and
    types (new ones may follow); when they do not, this drops the old view and what depends
    on it, as the default does, and the marts DAG finds those missing
    (lumbung.rebuild_plan) and rebuilds them.
#}
{%- materialization view, adapter='postgres' -%}

    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}

    {%- if existing_relation is not none and not existing_relation.is_view -%}
        {{ drop_relation_if_exists(existing_relation) }}
        {%- set existing_relation = none -%}
    {%- endif -%}

    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% call statement('main') -%}
        do $lumbung_view$
        begin
            create or replace view {{ target_relation }} as (
{{ sql }}
            );
        exception
            -- columns renamed, dropped or retyped: replace the view and what depends on it
            when invalid_table_definition or datatype_mismatch then
                drop view {{ target_relation }} cascade;
                create view {{ target_relation }} as (
{{ sql }}
                );
        end
        $lumbung_view$
    {%- endcall %}

    {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
    {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}

    {% do persist_docs(target_relation, model) %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}

    {{ adapter.commit() }}

    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}

{%- endmaterialization -%}
