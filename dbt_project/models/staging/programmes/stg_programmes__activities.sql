-- Every programme row of the latest accepted delivery of each partition (a regency's SIPD
-- export per year, the province's per year, the CSR export per year), from the three raw
-- tables in one shape: who plans it (actor), what (nomenclature code or CSR field), where
-- (the location matched at landing: a village, or a whole district) and how much.

with

batches as (

    select
        batch_id,
        dataset,
        -- a partition delivered again replaces the earlier delivery whole
        row_number() over (
            partition by dataset, partition_key order by batch_id desc
        ) as recency_rank
    from {{ source('audit', 'load_batches') }}
    where
        source = 'programmes'
        and {{ batch_is_visible() }}

),

deliveries as (

    select batch_id
    from batches
    where recency_rank = 1

),

sipd as (

    {%- set plans = [
        ('regency', 'programmes_sipd_regency'),
        ('province', 'programmes_sipd_province'),
    ] %}
    {%- for actor, table in plans %}
        select
            '{{ actor }}' as actor,
            _batch_id,
            _row_number,
            tahun,
            kode_sub_kegiatan,
            nama_sub_kegiatan as activity_name,
            perangkat_daerah as implementer,
            sumber_dana,
            null::text as csr_field,
            lokasi,
            pagu as budget_text,
            realisasi,
            _lokasi_tingkat,
            _lokasi_kode
        from {{ source('programmes', table) }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

rows_received as (

    select * from sipd
    union all
    select
        'private' as actor,
        _batch_id,
        _row_number,
        tahun,
        null::text as kode_sub_kegiatan,
        nama_program as activity_name,
        nama_perusahaan as implementer,
        'CSR' as sumber_dana,
        bidang as csr_field,
        lokasi,
        nilai_program as budget_text,
        realisasi,
        _lokasi_tingkat,
        _lokasi_kode
    from {{ source('programmes', 'programmes_csr') }}

),

final as (

    select
        rows_received._batch_id as batch_id,
        rows_received._row_number as source_row_number,
        trim(rows_received.tahun)::integer as programme_year,
        rows_received.actor,
        trim(rows_received.kode_sub_kegiatan) as nomenclature_code,
        lower(regexp_replace(trim(rows_received.csr_field), '\s+', ' ', 'g')) as csr_field,
        trim(regexp_replace(rows_received.activity_name, '\s+', ' ', 'g')) as activity_name,
        trim(regexp_replace(rows_received.implementer, '\s+', ' ', 'g')) as implementer,
        nullif(trim(regexp_replace(rows_received.sumber_dana, '\s+', ' ', 'g')), '')
            as funding_source,
        rows_received.lokasi as location_text,
        rows_received._lokasi_tingkat as location_level,
        case
            when rows_received._lokasi_tingkat = 'village' then rows_received._lokasi_kode
        end as village_code,
        left(rows_received._lokasi_kode, 6) as district_code,
        left(rows_received._lokasi_kode, 4) as regency_code,
        {{ parse_id_number('rows_received.budget_text') }} as budget_amount,
        {{ parse_id_number('rows_received.realisasi') }} as realised_amount
    from rows_received
    inner join deliveries on rows_received._batch_id = deliveries.batch_id

)

select * from final
