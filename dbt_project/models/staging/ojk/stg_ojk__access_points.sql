with

batches as (

    select
        batch_id,
        (partition_key || '-01')::date as period_month,
        -- a report delivered again for the same month replaces the earlier one whole
        row_number() over (partition by partition_key order by batch_id desc) as recency_rank
    {{ from_visible_batches('ojk', 'access_points') }}

),

reports as (

    select
        batch_id,
        period_month
    from batches
    where recency_rank = 1

),

agents as (

    select
        reports.period_month,
        'village' as area_level,
        regexp_replace(agents.kode_desa, '[^0-9]', '', 'g') as area_code,
        regexp_replace(agents.kode_desa, '[^0-9]', '', 'g') as village_code,
        left(regexp_replace(agents.kode_desa, '[^0-9]', '', 'g'), 6) as district_code,
        trim(regexp_replace(agents.nama_bank, '\s+', ' ', 'g')) as bank_name,
        'laku_pandai_agent' as access_type,
        {{ parse_id_number('agents.jumlah_agen') }}::integer as point_count,
        agents._batch_id as batch_id,
        'Agen Laku Pandai' as source_sheet,
        agents._row_number as source_row_number
    from {{ source('ojk', 'ojk_agents') }} as agents
    inner join reports on agents._batch_id = reports.batch_id

),

offices as (

    select
        reports.period_month,
        'district' as area_level,
        regexp_replace(offices.kode_kecamatan, '[^0-9]', '', 'g') as area_code,
        null::text as village_code,
        regexp_replace(offices.kode_kecamatan, '[^0-9]', '', 'g') as district_code,
        trim(regexp_replace(offices.nama_bank, '\s+', ' ', 'g')) as bank_name,
        office.access_type,
        {{ parse_id_number('office.point_text') }}::integer as point_count,
        offices._batch_id as batch_id,
        'Kantor Bank dan ATM' as source_sheet,
        offices._row_number as source_row_number
    from {{ source('ojk', 'ojk_offices') }} as offices
    inner join reports on offices._batch_id = reports.batch_id
    cross join
        lateral (
            values
            ('branch_office', offices.kantor_cabang),
            ('sub_branch_office', offices.kantor_cabang_pembantu),
            ('cash_office', offices.kantor_kas),
            ('atm', offices.atm)
        ) as office (access_type, point_text)

),

unioned as (

    select * from agents
    union all
    select * from offices

)

select * from unioned
