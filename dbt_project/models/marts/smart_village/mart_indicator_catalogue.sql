-- The Smart Village indicator catalogue as BI users read it (published as
-- marts.ref_indicator_catalogue): every indicator of every methodology version of the seed,
-- with its scoring rule and weight, its share of its dimension's weight, and whether its
-- version is the one the marts are computed with.
-- noqa: disable=RF04

{{ config(alias='ref_indicator_catalogue') }}

with

catalogue as (

    select * from {{ ref('ref_indicator_catalogue') }}

),

active_version as (

    select distinct methodology_version
    from {{ ref('int_smart_village__catalogue') }}

),

final as (

    select
        catalogue.methodology_version::text as methodology_version,
        catalogue.methodology_version in (
            select active_version.methodology_version from active_version
        ) as is_active_version,
        catalogue.dimension::text as dimension,
        case catalogue.dimension
            when 'A' then 'Smart Institution'
            when 'B' then 'Smart Infrastructure'
            when 'C' then 'Smart Service Delivery'
            when 'D' then 'Smart Technology and Innovation'
            when 'E' then 'Smart Societies'
            when 'F' then 'Smart Economy'
        end as dimension_name,
        catalogue.indicator_id::text as indicator_id,
        catalogue.indicator_name::text as indicator,
        catalogue.source::text as source,
        catalogue.field::text as field,
        catalogue.scoring_rule::text as rule,
        catalogue.rule_parameter::numeric as rule_parameter,
        catalogue.weight::numeric as weight,
        round(
            catalogue.weight::numeric / sum(catalogue.weight::numeric) over (
                partition by catalogue.methodology_version, catalogue.dimension
            ),
            4
        ) as weight_share_in_dimension,
        catalogue.description::text as description
    from catalogue

)

select * from final
