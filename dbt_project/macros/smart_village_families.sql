{#
    The Smart Village source families, each with an int_smart_village__<family>_indicators
    model, in the order int_smart_village__indicator_values unions them, separated by
    spaces. Callers split the text, as for smart_village_dimensions.
#}
{% macro smart_village_source_families() -%}
    idm survey apbdes bumdes ojk
{%- endmacro %}


{#
    The source families whose rows the models kept by family (int_smart_village__
    indicator_scores and int_smart_village__dimension_scores) rescore, read at run time.
    In a selective rebuild (audit.dbt_pin.tested_after set by lumbung.rebuild_plan: the dbt
    project and the region master are those of the last published build), the families
    whose int_smart_village__<family>_indicators model this build selects, i.e. those fed
    by a changed source. Otherwise none, meaning every family: a run that is not
    incremental, a whole rebuild, and also when the spine's years differ from those of the
    dimension sums (a year that came or went can add or drop rows of any family). Both
    models decide alike: the sums are the last of them rebuilt, and the smaller to read.
#}
{% macro smart_village_rebuilt_families() -%}
    {#- before the checks, so that dbt records the dependency when parsing -#}
    {%- set spine = ref('int_smart_village__village_years') -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(none) }}
    {%- endif -%}
    {#- by name, not ref(): the sums are built from the scores -#}
    {%- set sums = adapter.get_relation(
        database=this.database, schema=this.schema,
        identifier='int_smart_village__dimension_scores') -%}
    {%- if sums is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select
            pin.tested_after is not null
            and (
                select array_agg(distinct spine.year order by spine.year)
                from {{ spine }} as spine
            ) is not distinct from (
                select array_agg(distinct sums.year order by sums.year)
                from {{ sums }} as sums
            )
        from audit.dbt_pin as pin
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {%- if rows | length == 0 or not rows[0][0] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set families = [] -%}
    {%- for family in smart_village_source_families().split() -%}
        {%- if 'model.' ~ project_name ~ '.int_smart_village__' ~ family ~ '_indicators'
            in selected_resources -%}
            {%- do families.append(family) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(families) }}
{%- endmacro %}


{#
    The where condition of the rows of a model kept by family that an incremental run
    rescores (smart_village_rebuilt_families): every row when `families` is none.
#}
{% macro smart_village_family_filter(column, families) -%}
    {%- if families is none -%}
        true
    {%- elif families | length > 0 -%}
        {{ column }} in ('{{ families | join("', '") }}')
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}


{#
    The config of a model kept by source family: incremental (append), the rows of the
    families it rescores deleted first in its transaction (smart_village_delete_rescored),
    its columns following the model's (a changed project rescores every row), analysed
    when its row count moves (its rewritten rows leave dead pages, not new kinds of rows).
#}
{% macro smart_village_family_config() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='sync_all_columns',
        pre_hook="{{ smart_village_delete_rescored() }}",
        meta={'analyze_when': 'rows'},
    ) }}
{%- endmacro %}


{#
    Pre-hook of a model kept by family (incremental, append): in an incremental run, delete
    the rows of the families it rescores (every row when it rescores all), in the model's
    transaction, so that readers see the old rows or the new ones.
#}
{% macro smart_village_delete_rescored() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ smart_village_family_filter(
            'source_family', smart_village_rebuilt_families()) }}
    {%- endif -%}
{%- endmacro %}


{#
    The rows of a model kept by family that this dbt invocation wrote (its
    dbt_invocation_id column), which a generic test with the `where` placeholder
    `__written_by_this_build__` checks: the others were written and tested by an earlier
    build from the same inputs. Every row when this invocation wrote none (`dbt test` on
    its own, or a build that rescored no family).
#}
{% macro written_by_this_build(relation) -%}
    {#- not built yet (e.g. `dbt docs generate` compiling the tests first): nothing to read -#}
    {%- if not execute or adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    ) is none -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set query -%}
        select exists (
            select 1 from {{ relation }} where dbt_invocation_id = '{{ invocation_id }}'
        )
    {%- endset -%}
    {%- if not run_query(query).rows[0][0] -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set filtered -%}
        (select * from {{ relation }} where dbt_invocation_id = '{{ invocation_id }}') dbt_subquery
    {%- endset -%}
    {{ return(filtered) }}
{%- endmacro %}
