-- The Smart Village scores of every desa, year and dimension as sums per source family:
-- of the weighted scores, of the weights and of the indicators that had data. The index
-- mart adds the families up, reading a fraction of the scored rows; kept by family as
-- int_smart_village__indicator_scores is, a selective rebuild sums again only the families
-- it rescored (macro smart_village_rebuilt_families), deleting their rows first.
-- Grain: one row per (village_code, year, dimension, source_family).

{{ smart_village_family_config() }}

{%- set families = smart_village_rebuilt_families() %}

with

indicator_scores as (

    select * from {{ ref('int_smart_village__indicator_scores') }}
    where {{ smart_village_family_filter('source_family', families) }}

),

final as (

    select
        village_code,
        year,
        dimension,
        source_family,
        sum(weight * score) as weighted_score_sum,
        sum(weight) as weight_sum,
        count(*)::integer as indicator_count,
        '{{ invocation_id }}'::uuid as dbt_invocation_id
    from indicator_scores
    group by village_code, year, dimension, source_family

)

select * from final
