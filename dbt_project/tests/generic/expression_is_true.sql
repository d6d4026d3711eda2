{#
    Fails for every row where the SQL boolean expression is not true (false or null).
    A local version of dbt_utils' test: this project uses no packages.
#}
{% test expression_is_true(model, expression) %}

    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)

{% endtest %}
