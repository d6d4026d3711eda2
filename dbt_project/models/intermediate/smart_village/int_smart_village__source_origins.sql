-- Whether the values a source family gives a desa-year are real or generated: the origin of
-- the batches they are read from. IDM and survey: the desa-year's own file or response;
-- APBDes: the winning submissions of the desa's regency for the year (a submission covers
-- every desa of its regency, also one it has no line for); BUMDes: the registry items of
-- the desa's regency and the desa's reports of the year; OJK: the year's province-wide
-- reports (int_ojk__year_origins). Grain: one row per (village_code, year, source_family).
-- A table: its three tests and mart_smart_village each read it, and as a view each read
-- joins every source's batches again.

{{ config(materialized='table') }}

with

load_batches as (

    select
        batch_id,
        data_origin
    from {{ ref('stg_audit__load_batches') }}

),

spine as (

    select
        village_code,
        year,
        regency_code
    from {{ ref('int_smart_village__village_years') }}

),

idm as (

    {{ village_year_origins(ref('stg_idm__batches'), 'year', 'idm') }}

),

survey as (

    {{ village_year_origins(ref('stg_survey__responses'), 'survey_year', 'survey') }}

),

apbdes_regencies as (

    select
        submissions.regency_code,
        submissions.fiscal_year as year,
        load_batches.data_origin
    from {{ ref('stg_apbdes__submissions') }} as submissions
    inner join load_batches on submissions.batch_id = load_batches.batch_id

),

apbdes as (

    select
        spine.village_code,
        spine.year,
        'apbdes' as source_family,
        apbdes_regencies.data_origin
    from spine
    inner join apbdes_regencies
        on
            spine.regency_code = apbdes_regencies.regency_code
            and spine.year = apbdes_regencies.year

),

-- combined per regency first: a registry snapshot is many page batches
registry_regencies as (

    select
        left(registry.village_code, 4) as regency_code,
        {{ data_origin_agg('load_batches.data_origin') }} as data_origin
    from {{ ref('stg_bumdes__registry') }} as registry
    inner join load_batches on registry.batch_id = load_batches.batch_id
    group by left(registry.village_code, 4)

),

bumdes as (

    select
        spine.village_code,
        spine.year,
        'bumdes' as source_family,
        registry_regencies.data_origin
    from spine
    inner join registry_regencies on spine.regency_code = registry_regencies.regency_code
    union all
    {{ village_year_origins(ref('stg_bumdes__annual_reports'), 'report_year', 'bumdes') }}

),

ojk as (

    select
        spine.village_code,
        spine.year,
        'ojk' as source_family,
        year_origins.data_origin
    from spine
    inner join {{ ref('int_ojk__year_origins') }} as year_origins
        on spine.year = year_origins.year

),

unioned as (

    select * from idm
    union all
    select * from survey
    union all
    select * from apbdes
    union all
    select * from bumdes
    union all
    select * from ojk

),

final as (

    select
        village_code::text as village_code,
        year::integer as year,
        source_family,
        {{ data_origin_agg('data_origin') }} as data_origin
    from unioned
    group by village_code, year, source_family

)

select * from final
