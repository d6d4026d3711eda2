{#
    Fails for every row and listed SQL boolean expression that is not true (false or null);
    each failing row names the expression it fails. The rules of one model in one scan and
    one dbt node: the marts are rebuilt by every marts build, where a test per rule cost
    about 30 ms of dbt's own work apiece, more than the scan (see expression_is_true for a
    rule of its own, e.g. on a column with a `where`).
#}
{% test expressions_are_true(model, expressions) %}

    select
        rules.failed_expression,
        checked.*
    -- a subquery, as the model may be a filtered one (a `where` config: dbt_subquery)
    from (select * from {{ model }}) as checked
    cross join lateral (
        values
        {% for expression in expressions %}
            (
                '{{ expression | replace("'", "''") }}',
                coalesce(({{ expression }}), false)
            ){{ "," if not loop.last }}
        {% endfor %}
    ) as rules (failed_expression, holds)
    where not rules.holds

{% endtest %}
