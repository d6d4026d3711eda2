-- Every programme row with the Smart Village dimension its work is on, by the policy seed
-- ref_programme_dimension_policy: the longest nomenclature prefix listed for a SIPD row, the
-- field of work for a CSR row; null when the policy lists neither.
-- A table: the staging view under it picks each partition's latest batch with a window
-- function the planner estimates at one row, and the alignment mart over the view was
-- joined by nested loops.

{{ config(materialized='table') }}

with

activities as (

    select * from {{ ref('stg_programmes__activities') }}

),

policy as (

    select * from {{ ref('ref_programme_dimension_policy') }}

),

candidates as (

    select
        activities.batch_id,
        activities.source_row_number,
        policy.dimension,
        row_number() over (
            partition by activities.batch_id, activities.source_row_number
            order by length(policy.code) desc
        ) as specificity_rank
    from activities
    inner join policy
        on
            (
                policy.classification = 'sipd'
                and (
                    activities.nomenclature_code = policy.code
                    or activities.nomenclature_code like policy.code || '.%'
                )
            )
            or (policy.classification = 'csr' and activities.csr_field = policy.code)

),

final as (

    select
        activities.batch_id,
        activities.source_row_number,
        activities.programme_year,
        activities.actor,
        activities.nomenclature_code,
        activities.csr_field,
        activities.activity_name,
        activities.implementer,
        activities.funding_source,
        activities.location_text,
        activities.location_level,
        activities.village_code,
        activities.district_code,
        activities.regency_code,
        activities.budget_amount,
        activities.realised_amount,
        candidates.dimension
    from activities
    left join candidates
        on
            activities.batch_id = candidates.batch_id
            and activities.source_row_number = candidates.source_row_number
            and candidates.specificity_rank = 1

)

select * from final
