{#
    Post-hook statement: `analyze` the model's table when its statistics cannot describe it:
    none yet (a table just created; its index build sets only its size) or grown by a fifth
    in pages since they were taken (an incremental run that added much). An incremental run
    that replaced one regency-year leaves them representative, and analysing millions of
    lines again cost more than that run.
#}
{% macro analyze_if_stale(relation) -%}
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
                or pg_relation_size(c.oid)
                > 1.2 * c.relpages * current_setting('block_size')::bigint
            from pg_class as c
            where c.oid = '{{ relation }}'::regclass
        ) then
            analyze {{ relation }};
        end if;
    end
    $analyze$
{%- endmacro %}
