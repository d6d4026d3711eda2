-- The IDM recomputed from the 50 indicator scores of each desa and year: each dimension
-- index is the sum of its scores over the most points its indicators can get (from the
-- catalogue: IKS 35 x 5 = 175, IKE 12 x 5 = 60, IKL 3 x 5 = 15), and the IDM is the mean of
-- the three. A dimension with a missing indicator score has no index (null, never a zero),
-- and then neither has the IDM.

with

catalogue as (

    select
        dimensi as dimension,
        no as indicator_no,
        skor_max
    from {{ ref('ref_idm_indicators') }}

),

dimensions as (

    select
        dimension,
        count(*) as indicators_expected,
        sum(skor_max) as max_points
    from catalogue
    group by dimension

),

scores as (

    select
        village_code,
        year,
        dimension,
        indicator_no,
        score
    from {{ ref('stg_idm__indicator_scores') }}

),

village_years as (

    select distinct
        village_code,
        year
    from scores

),

-- only indicators of the catalogue count towards an index
dimension_points as (

    select
        scores.village_code,
        scores.year,
        scores.dimension,
        count(distinct scores.indicator_no) as indicators_scored,
        sum(scores.score) as points
    from scores
    inner join catalogue
        on
            scores.dimension = catalogue.dimension
            and scores.indicator_no = catalogue.indicator_no
    group by scores.village_code, scores.year, scores.dimension

),

-- every village-year gets every dimension, so a dimension without any score shows as such
dimension_indices as (

    select
        village_years.village_code,
        village_years.year,
        dimensions.dimension,
        dimensions.indicators_expected,
        coalesce(dimension_points.indicators_scored, 0) as indicators_scored,
        dimension_points.points,
        case
            when coalesce(dimension_points.indicators_scored, 0) = dimensions.indicators_expected
                then dimension_points.points / dimensions.max_points
        end as dimension_index
    from village_years
    cross join dimensions
    left join dimension_points
        on
            village_years.village_code = dimension_points.village_code
            and village_years.year = dimension_points.year
            and dimensions.dimension = dimension_points.dimension

),

pivoted as (

    select
        village_code,
        year,
        cast(sum(indicators_scored) as integer) as indicators_scored,
        cast(sum(indicators_expected) as integer) as indicators_expected,
        cast(max(indicators_scored) filter (where dimension = 'IKS') as integer)
            as iks_indicators_scored,
        cast(max(indicators_scored) filter (where dimension = 'IKE') as integer)
            as ike_indicators_scored,
        cast(max(indicators_scored) filter (where dimension = 'IKL') as integer)
            as ikl_indicators_scored,
        max(dimension_index) filter (where dimension = 'IKS') as iks,
        max(dimension_index) filter (where dimension = 'IKE') as ike,
        max(dimension_index) filter (where dimension = 'IKL') as ikl
    from dimension_indices
    group by village_code, year

),

recomputed as (

    select
        village_code,
        year,
        indicators_scored,
        indicators_expected,
        iks_indicators_scored,
        ike_indicators_scored,
        ikl_indicators_scored,
        indicators_scored = indicators_expected as is_complete,
        iks,
        ike,
        ikl,
        (iks + ike + ikl) / 3 as idm
    from pivoted

)

select * from recomputed
