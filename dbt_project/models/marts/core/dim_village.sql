-- Village history (slowly changing dimension, type 2) built from the Kepmendagri editions.
-- A new version starts when a village first appears, reappears after being absent from an
-- edition, or when its name, type or district changes from the previous edition.

with

village_editions as (

    select * from {{ ref('int_kemendagri__village_editions') }}

),

editions as (

    select * from {{ ref('int_kemendagri__editions') }}

),

with_previous as (

    select
        village_code,
        edition_seq,
        village_name,
        village_type,
        district_code,
        lag(edition_seq) over (
            partition by village_code order by edition_seq
        ) as previous_edition_seq,
        lag(village_name) over (
            partition by village_code order by edition_seq
        ) as previous_village_name,
        lag(village_type) over (
            partition by village_code order by edition_seq
        ) as previous_village_type,
        lag(district_code) over (
            partition by village_code order by edition_seq
        ) as previous_district_code
    from village_editions

),

compared as (

    select
        village_code,
        edition_seq,
        case
            when previous_edition_seq is null then 1
            when previous_edition_seq <> edition_seq - 1 then 1
            when (previous_village_name is distinct from village_name) then 1
            when (previous_village_type is distinct from village_type) then 1
            when (previous_district_code is distinct from district_code) then 1
            else 0
        end as starts_version
    from with_previous

),

numbered as (

    select
        village_code,
        edition_seq,
        sum(starts_version) over (
            partition by village_code
            order by edition_seq
            rows between unbounded preceding and current row
        ) as version_number
    from compared

),

versions as (

    select
        village_code,
        version_number,
        min(edition_seq) as first_edition_seq,
        max(edition_seq) as last_edition_seq
    from numbered
    group by village_code, version_number

),

final as (

    select
        versions.village_code || ':' || first_edition.edition as village_key,
        versions.village_code,
        last_edition.village_code_dotted,
        last_edition.village_name,
        last_edition.village_type,
        last_edition.local_term,
        last_edition.district_code,
        last_edition.district_name,
        last_edition.regency_code,
        last_edition.regency_name,
        last_edition.province_code,
        first_edition.edition,
        first_edition.edition_valid_from as valid_from,
        closing_edition.valid_from as valid_to,
        closing_edition.valid_from is null as is_current,
        last_edition.lat as latitude,
        last_edition.lng as longitude,
        last_edition.is_synthetic
    from versions
    inner join village_editions as first_edition
        on
            versions.village_code = first_edition.village_code
            and versions.first_edition_seq = first_edition.edition_seq
    inner join village_editions as last_edition
        on
            versions.village_code = last_edition.village_code
            and versions.last_edition_seq = last_edition.edition_seq
    left join editions as closing_edition
        on versions.last_edition_seq + 1 = closing_edition.edition_seq

)

select * from final
