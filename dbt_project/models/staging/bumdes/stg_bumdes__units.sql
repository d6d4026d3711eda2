with

registry as (

    select
        bumdes_id,
        snapshot_date,
        business_units
    from {{ ref('stg_bumdes__registry') }}

),

units as (

    select
        registry.bumdes_id,
        registry.snapshot_date,
        unit.unit_number,
        trim(regexp_replace(unit.item ->> 'nama', '\s+', ' ', 'g')) as unit_name,
        trim(regexp_replace(unit.item ->> 'jenis', '\s+', ' ', 'g')) as unit_kind
    from registry
    cross join
        lateral jsonb_array_elements(registry.business_units)
        with ordinality as unit (item, unit_number)

)

select * from units
