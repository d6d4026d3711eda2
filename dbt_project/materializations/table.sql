{#
    dbt's table materialization, keeping the views built on the table. The default builds
    the new table beside the old one, swaps them by renaming, and drops the old one with
    `drop ... cascade`, which drops every view reading it (a rebuilt table under a view of
    the next layer: `int_bumdes__bumdes_years` under `int_bumdes__pades_reconciliation`).
    Here the views reading the old table are first read back (`pg_get_viewdef`, while the
    names are still the old ones), then re-pointed at the new table with
    `create or replace view` before the old one is dropped. A view that no longer fits the
    new table (a column gone or retyped) is dropped with the old table, as by the default;
    the marts DAG finds it missing and rebuilds it (lumbung.rebuild_plan).
#}
{% materialization table, adapter='postgres' %}

  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='table') %}
  {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
  {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
  {%- set backup_relation_type = 'table' if existing_relation is none else existing_relation.type -%}
  {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
  {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
  {% set grant_config = config.get('grants') %}

  {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
  {{ drop_relation_if_exists(preexisting_backup_relation) }}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}

  -- `BEGIN` happens here:
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% call statement('main') -%}
    {{ get_create_table_as_sql(False, intermediate_relation, sql) }}
  {%- endcall %}

  {% do create_indexes(intermediate_relation) %}

  {%- set dependent_views = [] -%}
  {% if existing_relation is not none %}
    {% set existing_relation = load_cached_relation(existing_relation) %}
    {% if existing_relation is not none %}
      {%- set dependent_views = lumbung_dependent_views(existing_relation) -%}
      {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {% endif %}
  {% endif %}

  {{ adapter.rename_relation(intermediate_relation, target_relation) }}

  {% for view_name, definition in dependent_views %}
    {% call statement('repoint_view_' ~ loop.index) -%}
      do $lumbung_table$
      begin
          create or replace view {{ view_name }} as {{ definition.rstrip().rstrip(';') }};
      exception when others then
          raise warning 'view % no longer fits %: dropped with the old table (%)',
              {{ "'" ~ view_name ~ "'" }}, {{ "'" ~ target_relation ~ "'" }}, sqlerrm;
      end
      $lumbung_table$
    {%- endcall %}
  {% endfor %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}

  {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}

  {% do persist_docs(target_relation, model) %}

  -- `COMMIT` happens here
  {{ adapter.commit() }}

  {{ drop_relation_if_exists(backup_relation) }}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#- The views that read a relation directly: (schema-qualified name, definition). -#}
{% macro lumbung_dependent_views(relation) %}
  {%- set query -%}
    select distinct
        format('%I.%I', view_schema.nspname, view_class.relname) as view_name,
        pg_get_viewdef(view_class.oid) as definition
    from pg_depend as dependency
    inner join pg_rewrite as rule on dependency.objid = rule.oid
    inner join pg_class as view_class on rule.ev_class = view_class.oid
    inner join pg_namespace as view_schema on view_class.relnamespace = view_schema.oid
    where
        dependency.classid = 'pg_rewrite'::regclass
        and dependency.refclassid = 'pg_class'::regclass
        and dependency.refobjid
            = to_regclass(format('%I.%I', '{{ relation.schema }}', '{{ relation.identifier }}'))
        and view_class.oid <> dependency.refobjid
        and view_class.relkind = 'v'
    order by view_name
  {%- endset -%}
  {%- set views = [] -%}
  {%- for row in run_query(query).rows -%}
    {%- do views.append((row[0], row[1])) -%}
  {%- endfor -%}
  {{- return(views) -}}
{% endmacro %}
