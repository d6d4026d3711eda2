-- One row per village per complete edition, with its district, regency and local term
-- as published in that edition.

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

joined as (

    select
        villages.edition,
        editions.edition_seq,
        editions.valid_from as edition_valid_from,
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
    inner join editions on villages.edition = editions.edition
    left join districts
        on
            villages.edition = districts.edition
            and villages.district_code = districts.district_code
    left join regencies
        on
            villages.edition = regencies.edition
            and villages.regency_code = regencies.regency_code
    left join local_terms on villages.regency_code = local_terms.regency_code

)

select * from joined
