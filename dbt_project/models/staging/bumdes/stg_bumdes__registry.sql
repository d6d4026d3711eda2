-- A table, not a view: the latest row of each BUMDes is picked by a window function the
-- planner cannot estimate, and the tests and models that join this model to another BUMDes
-- model would otherwise be planned as nested loops over it, growing with the square of the
-- BUMDes.
{{ config(materialized='table') }}

with

batches as (

    select
        batch_id,
        partition_key::date as snapshot_date
    {{ from_visible_batches('bumdes', 'registry') }}

),

latest_snapshot as (

    select max(snapshot_date) as snapshot_date
    from batches

),

source as (

    select * from {{ source('bumdes', 'bumdes_registry') }}

),

items as (

    select
        trim(source.id) as bumdes_id,
        batches.snapshot_date,
        regexp_replace(source.kode_desa, '[^0-9]', '', 'g') as village_code,
        trim(regexp_replace(source.nama, '\s+', ' ', 'g')) as bumdes_name,
        trim(regexp_replace(source.nama_desa, '\s+', ' ', 'g')) as village_name_reported,
        nullif(trim(source.status_badan_hukum), '') as legal_status,
        case lower(trim(source.status_badan_hukum))
            when 'berbadan hukum' then 'legal_entity'
            when 'nama terverifikasi' then 'name_verified'
            when 'perbaikan dokumen' then 'document_revision'
            when 'belum terdaftar' then 'unregistered'
        end as registration_stage,
        nullif(trim(source.nomor_sertifikat), '') as certificate_number,
        nullif(trim(source.tanggal_sertifikat), '')::date as certificate_date,
        trim(source.tanggal_berdiri)::date as founded_on,
        nullif(trim(source.nomor_perdes), '') as founding_regulation,
        source.unit_usaha::jsonb as business_units,
        jsonb_array_length(source.unit_usaha::jsonb) as business_unit_count,
        source.total::integer as registry_total,
        source._batch_id as batch_id,
        source.page::integer as source_page,
        source._row_number as source_item_number,
        -- a page delivered again (corrected) replaces the items it repeats
        row_number() over (
            partition by trim(source.id)
            order by source._batch_id desc, source._row_number desc
        ) as recency_rank
    from source
    inner join batches on source._batch_id = batches.batch_id
    inner join latest_snapshot on batches.snapshot_date = latest_snapshot.snapshot_date

),

final as (

    select
        bumdes_id,
        snapshot_date,
        village_code,
        bumdes_name,
        village_name_reported,
        legal_status,
        registration_stage,
        certificate_number,
        certificate_date,
        founded_on,
        founding_regulation,
        business_units,
        business_unit_count,
        registry_total,
        batch_id,
        source_page,
        source_item_number,
        coalesce(registration_stage = 'legal_entity', false) as is_legal_entity
    from items
    where recency_rank = 1

)

select * from final
