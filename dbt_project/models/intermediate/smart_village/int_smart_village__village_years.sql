-- The village-year spine of the Smart Village Index: every current desa of dim_village for
-- every year any source has data for, with the population the survey reported (the latest
-- report up to that year). Kelurahan are left out: they have no APBDes, BPD or BUMDes, and
-- the IDM covers desa only.
-- `year` is the name every Lumbung mart gives the reference year.
-- A table: the score, BUMDes and mart models each read it, and as a view each read would
-- scan every source for its years.
-- noqa: disable=RF04

{{ config(materialized='table') }}

with

villages as (

    select
        village_code,
        village_name,
        district_code,
        district_name,
        regency_code,
        regency_name,
        province_code
    from {{ ref('dim_village') }}
    where is_current and village_type = 'desa'

),

provinces as (

    select * from {{ ref('ref_provinces') }}

),

source_years as (

    select year from {{ ref('stg_idm__batches') }}
    union
    select survey_year as year from {{ ref('stg_survey__responses') }}
    union
    select fiscal_year as year from {{ ref('stg_apbdes__submissions') }}
    union
    select report_year as year from {{ ref('stg_bumdes__annual_reports') }}
    union
    select extract(year from period_month)::integer as year
    from {{ ref('stg_ojk__access_points') }}
    union
    select kur_year as year from {{ ref('stg_ojk__kur_district_quarter') }}

),

survey_population as (

    select
        village_code,
        survey_year,
        population
    from {{ ref('stg_survey__responses') }}
    where population is not null

),

spine as (

    select
        villages.village_code,
        source_years.year::integer as year,
        villages.village_name,
        villages.district_code,
        villages.district_name,
        villages.regency_code,
        villages.regency_name,
        villages.province_code,
        provinces.province_name
    from villages
    cross join source_years
    left join provinces on villages.province_code = provinces.province_code

),

-- the latest population the village reported up to the year
with_population as (

    select distinct on (spine.village_code, spine.year)
        spine.*,
        survey_population.population::bigint as population,
        survey_population.survey_year::integer as population_year
    from spine
    left join survey_population
        on
            spine.village_code = survey_population.village_code
            and spine.year >= survey_population.survey_year
    order by spine.village_code asc, spine.year asc, survey_population.survey_year desc nulls last

)

select * from with_population
