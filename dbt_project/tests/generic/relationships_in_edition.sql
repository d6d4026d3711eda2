{#
    Like dbt's relationships test, but the parent must exist in the same Kepmendagri
    edition as the child: a village's district must be a district of that village's edition.
#}
{% test relationships_in_edition(model, column_name, to, field, edition_column='edition') %}

    select
        child.{{ edition_column }},
        child.{{ column_name }}
    from {{ model }} as child
    left join {{ to }} as parent
        on
            child.{{ column_name }} = parent.{{ field }}
            and child.{{ edition_column }} = parent.{{ edition_column }}
    where
        child.{{ column_name }} is not null
        and parent.{{ field }} is null

{% endtest %}
