{#
    Fails for every row and listed SQL boolean expression that is not true (false or null);
    each failing row names the expression it fails. The rules of one model in one scan and
    one dbt node: the marts are rebuilt by every marts build, where a test per rule cost
    about 30 ms of dbt's own work apiece, more than the scan (see expression_is_true for a
    rule of its own, e.g. on a column with a `where`). Rows that pass every rule are let go
    in that scan; only the failing ones are checked rule by rule.
#}
{% test expressions_are_true(model, expressions) %}

    with

    failing as (

        select *
        -- a subquery, as the model may be a filtered one (a `where` config)
        from (select * from {{ model }}) as checked
        where not (
            {% for expression in expressions %}
                coalesce(({{ expression }}), false){{ " and" if not loop.last }}
            {% endfor %}
        )

    )

    select
        rules.failed_expression,
        failing.*
    from failing
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
