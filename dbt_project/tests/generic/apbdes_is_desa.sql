{#
    Fails for every value of the column that is not the code of a desa in the region master.
    Reads marts.dim_village by name, not by ref(): a ref would make this test a child of
    dim_village, and the region master's own build (dbt build --select +dim_village) would
    then select and run it too, failing that build whenever APBDes staging is absent or off.
#}
{% test apbdes_is_desa(model, column_name) %}

    select distinct child.{{ column_name }}
    from {{ model }} as child
    where
        child.{{ column_name }} is not null
        and not exists (
            select 1
            from marts.dim_village as village
            where
                village.village_code = child.{{ column_name }}
                and village.village_type = 'desa'
        )

{% endtest %}
