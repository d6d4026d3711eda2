-- The IDM of each desa and year as Kemendesa published it, beside the IDM recomputed from
-- its own 50 indicator scores, with a flag and the size of every disagreement.
-- A published value agrees when it is within the tolerance of the recomputed one: published
-- indices carry 14 decimals and tables often 4, so 0.00005 (half the last of 4 decimals)
-- absorbs any rounding, while the smallest real disagreement, one indicator point, moves
-- the IDM by 1/525 (0.0019) and IKS by 1/175 (0.0057).

{% set tolerance = var('idm_consistency_tolerance', '0.00005') %}

with

published as (

    select * from {{ ref('stg_idm__published_index') }}

),

recomputed as (

    select * from {{ ref('int_idm__recomputed') }}

),

thresholds as (

    {{ idm_status_thresholds() }}

),

-- the file each village-year comes from, and whether it is real or generated
origins as (

    select
        idm_batches.village_code,
        idm_batches.year,
        load_batches.data_origin
    from {{ ref('stg_idm__batches') }} as idm_batches
    inner join {{ ref('stg_audit__load_batches') }} as load_batches
        on idm_batches.batch_id = load_batches.batch_id

),

current_villages as (

    select
        village_code,
        village_key,
        village_name,
        district_name,
        regency_name
    from {{ ref('dim_village') }}
    where is_current

),

-- a village-year with scores but no published index (or the reverse) is kept, not compared
village_years as (

    select
        village_code,
        year
    from published
    union
    select
        village_code,
        year
    from recomputed

),

joined as (

    select
        village_years.village_code,
        village_years.year,
        current_villages.village_key,
        coalesce(current_villages.village_name, published.village_name) as village_name,
        current_villages.district_name,
        current_villages.regency_name,
        coalesce(recomputed.indicators_scored, 0) as indicators_scored,
        coalesce(recomputed.is_complete, false) and published.village_code is not null
            as is_complete,
        published.iks as iks_published,
        recomputed.iks as iks_recomputed,
        published.ike as ike_published,
        recomputed.ike as ike_recomputed,
        published.ikl as ikl_published,
        recomputed.ikl as ikl_recomputed,
        published.idm as idm_published,
        recomputed.idm as idm_recomputed,
        published.status as status_published,
        published_class.status_order as status_published_order,
        recomputed_class.status as status_recomputed,
        recomputed_class.status_order as status_recomputed_order,
        published.batch_id,
        coalesce(origins.data_origin, 'real') as data_origin
    from village_years
    left join published
        on
            village_years.village_code = published.village_code
            and village_years.year = published.year
    left join recomputed
        on
            village_years.village_code = recomputed.village_code
            and village_years.year = recomputed.year
    left join origins
        on
            village_years.village_code = origins.village_code
            and village_years.year = origins.year
    left join current_villages
        on village_years.village_code = current_villages.village_code
    left join thresholds as published_class
        on published.status = published_class.status
    -- the class whose range holds the recomputed IDM: min_exclusive < idm <= max_inclusive
    left join thresholds as recomputed_class
        on
            (
                recomputed_class.min_exclusive is null
                or recomputed.idm > recomputed_class.min_exclusive
            )
            and (
                recomputed_class.max_inclusive is null
                or recomputed.idm <= recomputed_class.max_inclusive
            )

),

compared as (

    select
        *,
        iks_published - iks_recomputed as iks_difference,
        ike_published - ike_recomputed as ike_difference,
        ikl_published - ikl_recomputed as ikl_difference,
        idm_published - idm_recomputed as idm_difference,
        status_published_order - status_recomputed_order as status_class_difference,
        abs(iks_published - iks_recomputed) > cast('{{ tolerance }}' as numeric)
            as iks_disagrees,
        abs(ike_published - ike_recomputed) > cast('{{ tolerance }}' as numeric)
            as ike_disagrees,
        abs(ikl_published - ikl_recomputed) > cast('{{ tolerance }}' as numeric)
            as ikl_disagrees,
        abs(idm_published - idm_recomputed) > cast('{{ tolerance }}' as numeric)
            as idm_disagrees,
        status_published <> status_recomputed as status_disagrees
    from joined

),

final as (

    select
        village_code,
        year,
        make_date(year, 1, 1) as date,
        village_key,
        village_name,
        left(village_code, 6) as district_code,
        district_name,
        left(village_code, 4) as regency_code,
        regency_name,
        indicators_scored,
        is_complete,
        case
            when
                coalesce(iks_disagrees, false)
                or coalesce(ike_disagrees, false)
                or coalesce(ikl_disagrees, false)
                or coalesce(idm_disagrees, false)
                or coalesce(status_disagrees, false)
                then 'inconsistent'
            when not is_complete then 'incomplete'
            else 'consistent'
        end as consistency,
        nullif(
            concat_ws(
                ', ',
                case when iks_disagrees then 'IKS' end,
                case when ike_disagrees then 'IKE' end,
                case when ikl_disagrees then 'IKL' end,
                case when idm_disagrees then 'IDM' end,
                case when status_disagrees then 'status' end
            ),
            ''
        ) as disagreeing_components,
        iks_published,
        iks_recomputed,
        iks_difference,
        iks_disagrees,
        ike_published,
        ike_recomputed,
        ike_difference,
        ike_disagrees,
        ikl_published,
        ikl_recomputed,
        ikl_difference,
        ikl_disagrees,
        idm_published,
        idm_recomputed,
        idm_difference,
        idm_disagrees,
        status_published,
        status_recomputed,
        status_class_difference,
        status_disagrees,
        cast('{{ tolerance }}' as numeric) as tolerance,
        batch_id,
        data_origin
    from compared

)

select * from final
