{#
    Fails for every row where the SQL boolean expression is not true (false or null).
    Usable on a model or on a column (the column then only names the test).
    A local version of dbt_utils' test: this project uses no packages.
#}
{% test expression_is_true(model, expression, column_name=none) %}

    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)

{% endtest %}
