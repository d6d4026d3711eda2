{#
    Fails for every value of the column that is not the code of a desa in the region master,
    of any edition: is_current_village without its is_current condition.
    Reads marts.dim_village by name, not by ref(): a ref would make this test a child of
    dim_village, and the region master's own build (dbt build --select +dim_village) would
    then select and run it too, failing that build whenever APBDes staging is absent or off.
#}
{% test apbdes_is_desa(model, column_name) %}
    {{ test_is_current_village(model, column_name, 'desa', current_only=false) }}
{% endtest %}
