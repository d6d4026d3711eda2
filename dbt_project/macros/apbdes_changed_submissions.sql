{#
    For an incremental APBDes model: the batch ids of the winning submissions
    (stg_apbdes__submissions) that the model does not hold yet, i.e. the regency-years whose
    accepted submission is new or changed since the last build. Read at run time, before the
    model's SQL is rendered, so the model can filter the staging views with a literal list
    that PostgreSQL pushes down to the raw tables' primary key (_batch_id, _row_number).
    Returns [] outside an incremental run.
#}
{% macro apbdes_changed_submissions(batch_column='submission_batch_id') -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query -%}
        select submissions.batch_id
        from {{ ref('stg_apbdes__submissions') }} as submissions
        where not exists (
            select 1
            from {{ this }} as built
            where built.{{ batch_column }} = submissions.batch_id
        )
        order by submissions.batch_id
    {%- endset -%}
    {{ return(run_query(query).columns[0].values() | map('int') | list) }}
{%- endmacro %}


{#
    Post-hook of an incremental APBDes model: remove the rows of submissions that no longer
    win (a regency-year whose submission was replaced is already removed by delete+insert;
    this catches a regency-year left with no accepted submission at all).
#}
{% macro apbdes_delete_unpublished(batch_column='submission_batch_id') -%}
    delete from {{ this }} as built
    where not exists (
        select 1
        from {{ ref('stg_apbdes__submissions') }} as submissions
        where submissions.batch_id = built.{{ batch_column }}
    )
{%- endmacro %}


{#
    The config of an incremental APBDes model: rebuilt by regency-year (delete+insert on
    regency_code and the model's year column), indexed on them (and, for a model that keeps
    each row's submission in batch_column, on that column), its unpublished submissions
    deleted after each run (apbdes_delete_unpublished).
#}
{% macro apbdes_incremental_config(
    year_column='fiscal_year', batch_index=true, batch_column='submission_batch_id'
) -%}
    {%- set indexes = [{'columns': [batch_column]}] if batch_index else [] -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['regency_code', year_column],
        on_schema_change='fail',
        indexes=indexes + [{'columns': ['regency_code', year_column]}],
        post_hook=["{{ apbdes_delete_unpublished('" ~ batch_column ~ "') }}"],
    ) }}
{%- endmacro %}


{#
    The where clause of a CTE of an incremental APBDes model that keeps the rows of the
    changed submissions (apbdes_changed_submissions) by their batch id in `column`; nothing
    outside an incremental run.
#}
{% macro apbdes_changed_only(column, changed) -%}
    {%- if is_incremental() %}
    where {{ batch_filter(column, changed) }}
    {%- endif %}
{%- endmacro %}


{#
    The first CTEs of an incremental APBDes model reading the staging lines: budget_lines
    and realisation_lines, each the lines of the changed submissions (the model's
    apbdes_changed_submissions(); every line outside an incremental run).
#}
{% macro apbdes_changed_lines(changed) -%}
    {%- for kind in ['budget', 'realisation'] %}
        {{ kind }}_lines as (
            select * from {{ ref('stg_apbdes__' ~ kind ~ '_lines') }}
        {% if is_incremental() -%}
            where {{ batch_filter('batch_id', changed) }}
        {%- endif %}
        ){{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
