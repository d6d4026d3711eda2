-- The indicators of the active methodology version of the Smart Village catalogue (seed
-- ref_indicator_catalogue). The seed may keep several versions; the active one is the dbt
-- var smart_village_methodology_version when set, else the highest version number.
-- `source` is the catalogue's own column name, kept as policy staff know it.
-- noqa: disable=RF04

with

catalogue as (

    select * from {{ ref('ref_indicator_catalogue') }}

),

active_version as (

    {% if var('smart_village_methodology_version', none) is not none %}
        select '{{ var("smart_village_methodology_version") }}'::text as methodology_version
    {% else %}
        select methodology_version
        from catalogue
        group by methodology_version
        order by string_to_array(methodology_version, '.')::integer[] desc
        limit 1
    {% endif %}

),

final as (

    select
        catalogue.methodology_version::text as methodology_version,
        catalogue.indicator_id::text as indicator_id,
        catalogue.dimension::text as dimension,
        catalogue.indicator_name::text as indicator_name,
        catalogue.source::text as source,
        catalogue.field::text as field,
        catalogue.scoring_rule::text as scoring_rule,
        catalogue.rule_parameter::numeric as rule_parameter,
        catalogue.weight::numeric as weight,
        catalogue.description::text as description
    from catalogue
    inner join active_version
        on catalogue.methodology_version = active_version.methodology_version

)

select * from final
