{#
    Fails for every value of the column that is not the code of a current village of the
    region master (optionally of one village_type, 'desa' or 'kelurahan'): dbt's
    relationships test cannot filter the parent on is_current.
    Reads marts.dim_village by name, not by ref(): a ref would make this test a child of
    dim_village, and the region master's own build (dbt build --select +dim_village) would
    then select and run it too, failing that build whenever the marts it checks are absent.
    current_only=false accepts a village of any edition (apbdes_is_desa).
#}
{% test is_current_village(model, column_name, village_type=none, current_only=true) %}

    -- a CTE, since the model may be a filtered subquery (a test's where config)
    with child as (
        select * from {{ model }}
    )

    select distinct child.{{ column_name }}
    from child
    where
        child.{{ column_name }} is not null
        and not exists (
            select 1
            from marts.dim_village as village
            where
                village.village_code = child.{{ column_name }}
                and (village.is_current or not {{ current_only }})
                {% if village_type %}
                    and village.village_type = '{{ village_type }}'
                {% endif %}
        )

{% endtest %}
