-- For auditors: every published IDM figure that its own indicator scores do not give, one
-- row per desa, year and component (IKS, IKE, IKL, IDM, status), and every village-year that
-- could not be checked because indicator scores or the published index are missing.

{#- The village-year each finding is about. -#}
{%- set village_year_columns = [
    'village_code', 'year', 'village_name', 'district_code', 'district_name', 'regency_code',
    'regency_name',
] %}

with

village_years as (

    select * from {{ ref('mart_idm') }}

),

components as (

    select
        village_years.{{ village_year_columns | join(', village_years.') }},
        component.component_order,
        component.component,
        component.published_value,
        component.recomputed_value,
        component.difference,
        component.disagrees,
        village_years.status_published,
        village_years.status_recomputed,
        village_years.batch_id,
        village_years.data_origin
    from village_years
    cross join lateral (
        values
        (
            1, 'IKS', village_years.iks_published, village_years.iks_recomputed,
            village_years.iks_difference, village_years.iks_disagrees
        ),
        (
            2, 'IKE', village_years.ike_published, village_years.ike_recomputed,
            village_years.ike_difference, village_years.ike_disagrees
        ),
        (
            3, 'IKL', village_years.ikl_published, village_years.ikl_recomputed,
            village_years.ikl_difference, village_years.ikl_disagrees
        ),
        (
            4, 'IDM', village_years.idm_published, village_years.idm_recomputed,
            village_years.idm_difference, village_years.idm_disagrees
        ),
        (
            5, 'status', null, null,
            village_years.status_class_difference, village_years.status_disagrees
        )
    ) as component (
        component_order, component, published_value, recomputed_value, difference, disagrees
    )

),

disagreements as (

    select
        {{ village_year_columns | join(', ') }},
        component,
        'disagrees' as finding,
        published_value,
        recomputed_value,
        difference,
        status_published,
        status_recomputed,
        case
            when component = 'status'
                then
                    'published ' || status_published || ', the IDM of the scores gives '
                    || status_recomputed
            else
                'published ' || round(published_value, 4) || ', the scores give '
                || round(recomputed_value, 4)
        end as detail,
        batch_id,
        data_origin,
        component_order
    from components
    where disagrees

),

unverifiable as (

    select
        {{ village_year_columns | join(', ') }},
        'scores' as component,
        'incomplete' as finding,
        cast(null as numeric) as published_value,
        cast(null as numeric) as recomputed_value,
        cast(null as numeric) as difference,
        status_published,
        status_recomputed,
        case
            when status_published is null then 'no published index'
            else indicators_scored || ' indicator scores: the others are missing'
        end as detail,
        batch_id,
        data_origin,
        0 as component_order
    from village_years
    where not is_complete

),

findings as (

    select * from disagreements
    union all
    select * from unverifiable

),

final as (

    select
        village_code,
        year,
        make_date(year, 1, 1) as date,
        village_name,
        district_code,
        district_name,
        regency_code,
        regency_name,
        component,
        finding,
        published_value,
        recomputed_value,
        difference,
        status_published,
        status_recomputed,
        detail,
        batch_id,
        data_origin
    from findings
    order by village_code, year, component_order

)

select * from final
