{#
    Select: every regency of the region master (dim_region) with its name, as a regency
    mart's `regencies` CTE.
#}
{% macro regency_names() -%}
    select
        region_code as regency_code,
        region_name as regency_name
    from {{ ref('dim_region') }}
    where region_level = 'regency'
{%- endmacro %}
