{#
    Post-hook statement: `analyze` the model's table when its statistics cannot describe it:
    none yet (a table just created; its index build sets only its size), or, by `by`:
    - `pages`: grown by a fifth in pages since they were taken (an incremental run that
      added much). An incremental run that replaced one regency-year leaves them
      representative, and analysing millions of lines again cost more than that run.
    - `rows`: its row count moved by a fifth from the one they were taken at: a model kept
      by source family (its model config `meta: {analyze_when: rows}`) rewrites a part of
      its rows each run, which leaves dead rows and so more pages until a vacuum, but the
      same kinds of rows; counting them costs a tenth of analysing them.
#}
{% macro analyze_if_stale(relation, by='pages') -%}
    {%- if by == 'pages' -%}
        {%- set grown -%}
            pg_relation_size(c.oid) > 1.2 * c.relpages * current_setting('block_size')::bigint
        {%- endset -%}
    {%- elif by == 'rows' -%}
        {%- set grown -%}
            abs((select count(*) from {{ relation }}) - c.reltuples) > 0.2 * c.reltuples
        {%- endset -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("analyze_if_stale: by is 'pages' or 'rows', not "
                                           ~ by) }}
    {%- endif -%}
    do $analyze$
    begin
        if (
            select
                not exists (
                    select 1
                    from pg_stats as s
                    where
                        s.schemaname = '{{ relation.schema }}'
                        and s.tablename = '{{ relation.identifier }}'
                )
                or {{ grown }}
            from pg_class as c
            where c.oid = '{{ relation }}'::regclass
        ) then
            analyze {{ relation }};
        end if;
    end
    $analyze$
{%- endmacro %}
