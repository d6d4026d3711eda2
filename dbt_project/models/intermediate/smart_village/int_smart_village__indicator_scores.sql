-- Every Smart Village indicator value of every desa and year, from all sources, scored 0-1
-- by its catalogue rule and carrying its catalogue dimension and weight. The SQL is generic
-- over the catalogue: editing a weight, a rule parameter or dropping an indicator changes
-- the scores on the next build without touching this model. Values of desa that are not
-- in the spine (not current, or kelurahan) are left out.
-- Grain: one row per (village_code, year, indicator_id).
-- A table, not a view: the marts and the tests read it many times, and as a view each read
-- would recompute every source's chain of views. Kept by source family: a selective
-- rebuild rescores only the families fed by a changed source (macro
-- smart_village_rebuilt_families), deleting their rows first, and its tests check the rows
-- it wrote (dbt_invocation_id).
-- noqa: disable=RF04

{{ smart_village_family_config() }}

{%- set families = smart_village_rebuilt_families() %}

with

catalogue as (

    select * from {{ ref('int_smart_village__catalogue') }}

),

spine as (

    select
        village_code,
        year
    from {{ ref('int_smart_village__village_years') }}

),

indicator_values as (

    select * from {{ ref('int_smart_village__indicator_values') }}

),

scored as (

    select
        indicator_values.village_code,
        indicator_values.year::integer as year,
        catalogue.indicator_id,
        catalogue.dimension,
        catalogue.source,
        indicator_values.source_family,
        catalogue.scoring_rule,
        catalogue.rule_parameter,
        catalogue.weight,
        catalogue.methodology_version,
        indicator_values.raw_value::numeric as raw_value,
        -- trailing zeros trimmed: 1, not 1.00000000000000000000
        trim_scale({{ smart_village_score(
            'catalogue.scoring_rule', 'indicator_values.raw_value', 'catalogue.rule_parameter'
        ) }}) as score,
        '{{ invocation_id }}'::uuid as dbt_invocation_id
    from indicator_values
    inner join catalogue on indicator_values.indicator_id = catalogue.indicator_id
    inner join spine
        on
            indicator_values.village_code = spine.village_code
            and indicator_values.year = spine.year
    where {{ smart_village_family_filter('indicator_values.source_family', families) }}

)

select * from scored
