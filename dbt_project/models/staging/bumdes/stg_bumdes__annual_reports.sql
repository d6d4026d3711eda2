-- A table, not a view: the latest row of each BUMDes is picked by a window function the
-- planner cannot estimate, and the tests and models that join this model to another BUMDes
-- model would otherwise be planned as nested loops over it, growing with the square of the
-- BUMDes.
{{ config(materialized='table') }}

with

batches as (

    select
        batch_id,
        partition_key::integer as report_year
    {{ from_visible_batches('bumdes', 'annual_reports') }}

),

source as (

    select * from {{ source('bumdes', 'bumdes_annual_reports') }}

),

reports as (

    select
        trim(source.id_bumdes) as bumdes_id,
        batches.report_year,
        regexp_replace(source.kode_desa, '[^0-9]', '', 'g') as village_code,
        trim(regexp_replace(source.nama_bumdes, '\s+', ' ', 'g')) as bumdes_name,
        trim(regexp_replace(source.nama_desa, '\s+', ' ', 'g')) as village_name_reported,
        {{ parse_id_number('source.modal') }} as capital,
        {{ parse_id_number('source.penyertaan_modal_desa') }} as village_capital_participation,
        {{ parse_id_number('source.aset') }} as assets,
        {{ parse_id_number('source.omzet') }} as turnover,
        {{ parse_id_number('source.laba') }} as profit,
        {{ parse_id_number('source.kontribusi_pades') }} as pades_contribution,
        initcap(lower(trim(source.klasifikasi))) as ranking_class,
        source._batch_id as batch_id,
        source._row_number as source_row_number,
        -- a report file delivered again (corrected) replaces the rows it repeats
        row_number() over (
            partition by trim(source.id_bumdes), batches.report_year
            order by source._batch_id desc, source._row_number desc
        ) as recency_rank
    from source
    inner join batches on source._batch_id = batches.batch_id

),

final as (

    select
        bumdes_id,
        report_year,
        village_code,
        bumdes_name,
        village_name_reported,
        capital,
        village_capital_participation,
        assets,
        turnover,
        profit,
        pades_contribution,
        ranking_class,
        batch_id,
        source_row_number
    from reports
    where recency_rank = 1

)

select * from final
