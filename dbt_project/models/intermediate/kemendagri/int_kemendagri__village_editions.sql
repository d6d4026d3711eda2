-- One row per village per complete edition, with its district, regency and local term
-- as published in that edition.
-- A table: dim_village joins it with itself, and through a view the planner's estimates
-- led to nested loops over every pair of village rows (75 s at 10x scale).

{{ config(materialized='table') }}

with

editions as (

    select * from {{ ref('int_kemendagri__editions') }}

),

villages as (

    select * from {{ ref('stg_kemendagri__villages') }}

),

districts as (

    select * from {{ ref('stg_kemendagri__districts') }}

),

regencies as (

    select * from {{ ref('stg_kemendagri__regencies') }}

),

local_terms as (

    select * from {{ ref('ref_village_local_terms') }}

),

-- Districts and regencies first, in a materialized CTE: the planner estimates the join
-- with the editions at one row, and joined before them it compared every village with
-- every district by nested loops (dim_village took 200 s for 26,576 desa at 10x scale).
located as materialized (

    select
        villages.edition,
        villages.village_code,
        villages.village_code_dotted,
        villages.village_name,
        villages.village_type,
        case
            when villages.village_type = 'kelurahan' then 'kelurahan'
            else coalesce(local_terms.local_term, 'desa')
        end as local_term,
        villages.district_code,
        districts.district_name,
        villages.regency_code,
        regencies.regency_name,
        villages.province_code,
        villages.lat,
        villages.lng,
        villages.is_synthetic
    from villages
    left join districts
        on
            villages.edition = districts.edition
            and villages.district_code = districts.district_code
    left join regencies
        on
            villages.edition = regencies.edition
            and villages.regency_code = regencies.regency_code
    left join local_terms on villages.regency_code = local_terms.regency_code

),

joined as (

    select
        located.edition,
        editions.edition_seq,
        editions.valid_from as edition_valid_from,
        located.village_code,
        located.village_code_dotted,
        located.village_name,
        located.village_type,
        located.local_term,
        located.district_code,
        located.district_name,
        located.regency_code,
        located.regency_name,
        located.province_code,
        located.lat,
        located.lng,
        located.is_synthetic
    from located
    inner join editions on located.edition = editions.edition

)

select * from joined
