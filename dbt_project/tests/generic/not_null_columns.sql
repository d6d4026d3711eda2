{#
    Fails for every listed column that holds a null, with the number of its null rows.
    One scan of the model for all its columns, where a test per column scanned it once per
    column: a staging view reads its whole raw table each time, and on a small table each
    test's dbt node (about 30 ms of dbt's own work) costs more than the query.
#}
{% test not_null_columns(model, column_names) %}

    with null_rows as (
        select
            {% for column_name in column_names %}
                count(*) filter (where {{ column_name }} is null)
                    as {{ column_name }}{{ "," if not loop.last }}
            {% endfor %}
        from {{ model }}
    )

    select
        nulls.column_name,
        nulls.null_rows
    from null_rows
    cross join lateral (
        values
        {% for column_name in column_names %}
            ('{{ column_name }}', null_rows.{{ column_name }}){{ "," if not loop.last }}
        {% endfor %}
    ) as nulls (column_name, null_rows)
    where nulls.null_rows > 0

{% endtest %}
