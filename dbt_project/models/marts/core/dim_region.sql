-- The region hierarchy of the current (latest usable) Kepmendagri edition: the province,
-- its regencies and its districts. Villages are in dim_village.

with

current_edition as (

    select edition
    from {{ ref('int_kemendagri__editions') }}
    where is_latest

),

provinces as (

    select * from {{ ref('ref_provinces') }}

),

regencies as (

    select regencies.*
    from {{ ref('stg_kemendagri__regencies') }} as regencies
    inner join current_edition on regencies.edition = current_edition.edition

),

districts as (

    select districts.*
    from {{ ref('stg_kemendagri__districts') }} as districts
    inner join current_edition on districts.edition = current_edition.edition

),

province_rows as (

    select
        provinces.province_code as region_code,
        provinces.province_code as region_code_dotted,
        'province' as region_level,
        provinces.province_name as region_name,
        null::text as parent_code,
        provinces.province_code,
        null::text as regency_code,
        null::text as regency_name,
        null::text as regency_type,
        null::numeric as area_km2,
        null::bigint as population_male,
        null::bigint as population_female,
        null::bigint as population_total,
        null::numeric as latitude,
        null::numeric as longitude,
        current_edition.edition,
        false as is_synthetic
    from provinces
    cross join current_edition

),

regency_rows as (

    select
        regency_code as region_code,
        regency_code_dotted as region_code_dotted,
        'regency' as region_level,
        regency_name as region_name,
        province_code as parent_code,
        province_code,
        regency_code,
        regency_name,
        regency_type,
        area_km2,
        population_male,
        population_female,
        population_total,
        lat as latitude,
        lng as longitude,
        edition,
        false as is_synthetic
    from regencies

),

district_rows as (

    select
        districts.district_code as region_code,
        districts.district_code_dotted as region_code_dotted,
        'district' as region_level,
        districts.district_name as region_name,
        districts.regency_code as parent_code,
        districts.province_code,
        districts.regency_code,
        regencies.regency_name,
        regencies.regency_type,
        null::numeric as area_km2,
        null::bigint as population_male,
        null::bigint as population_female,
        null::bigint as population_total,
        districts.lat as latitude,
        districts.lng as longitude,
        districts.edition,
        districts.is_synthetic
    from districts
    left join regencies on districts.regency_code = regencies.regency_code

),

unioned as (

    select * from province_rows
    union all
    select * from regency_rows
    union all
    select * from district_rows

),

boundaries as (

    select * from {{ ref('int_kemendagri__region_boundaries') }}

),

-- the region master's centroid where it has one, else the boundary file's
final as (

    select
        unioned.region_code,
        unioned.region_code_dotted,
        unioned.region_level,
        unioned.region_name,
        unioned.parent_code,
        unioned.province_code,
        unioned.regency_code,
        unioned.regency_name,
        unioned.regency_type,
        unioned.area_km2,
        unioned.population_male,
        unioned.population_female,
        unioned.population_total,
        coalesce(unioned.latitude, boundaries.latitude) as latitude,
        coalesce(unioned.longitude, boundaries.longitude) as longitude,
        boundaries.geojson,
        boundaries.boundary_polygon,
        unioned.edition,
        unioned.is_synthetic
    from unioned
    left join boundaries on unioned.region_code = boundaries.region_code

)

select * from final
