-- Budget lines of the winning submission of each regency and year: Siskeudes Ta_RABRinci
-- (one row per kegiatan, account, sub-rincian and line number) or the flat template (one
-- row per kegiatan and account). Amounts are numeric rupiah.
-- A table, incremental by regency-year as the finance models built on it: its tests and
-- those models read millions of lines, and a view would join the raw tables for each.

{{ apbdes_incremental_config(batch_column='batch_id') }}

{%- set changed = apbdes_changed_submissions('batch_id') %}

with

submissions as (

    select * from {{ ref('stg_apbdes__submissions') }}
    {{ apbdes_changed_only('batch_id', changed) }}

),

rab_rinci as (

    select * from {{ source('apbdes', 'apbdes_ta_rabrinci') }}
    {{ apbdes_changed_only('_batch_id', changed) }}

),

flat as (

    select * from {{ source('apbdes', 'apbdes_flat') }}
    {{ apbdes_changed_only('_batch_id', changed) }}

),

siskeudes_lines as (

    select
        submissions.fiscal_year,
        submissions.regency_code,
        {{ siskeudes_village_code('rab_rinci') }} as village_code,
        submissions.submission_format,
        rab_rinci._batch_id as batch_id,
        'Ta_RABRinci' as source_table,
        rab_rinci._row_number as source_row_number,
        -- Kd_Keg is the desa code followed by the kegiatan; 00.00.00. on revenue/financing
        nullif({{ siskeudes_kegiatan_id('rab_rinci') }}, '00.00.00.') as kegiatan_id,
        btrim(rab_rinci.kd_rincian) as kd_rincian,
        btrim(rab_rinci.kd_subrinci) as sub_rincian,
        btrim(rab_rinci.no_urut) as line_number,
        btrim(rab_rinci.uraian) as description,
        btrim(rab_rinci.sumberdana) as funding_source,
        {{ apbdes_parse_amount('rab_rinci.anggaran') }} as amount_original,
        {{ apbdes_parse_amount('rab_rinci.anggaranpak') }} as amount_change,
        {{ apbdes_parse_amount('rab_rinci.anggaranstlhpak') }} as amount
    from rab_rinci
    inner join submissions on rab_rinci._batch_id = submissions.batch_id

),

flat_lines as (

    select
        submissions.fiscal_year,
        submissions.regency_code,
        regexp_replace(flat.kd_desa, '[^0-9]', '', 'g') as village_code,
        submissions.submission_format,
        flat._batch_id as batch_id,
        'flat' as source_table,
        flat._row_number as source_row_number,
        nullif(btrim(flat.kd_keg), '') as kegiatan_id,
        btrim(flat.kd_rincian) as kd_rincian,
        null as sub_rincian,
        null as line_number,
        null as description,
        null as funding_source,
        null::numeric as amount_original,
        null::numeric as amount_change,
        {{ apbdes_parse_amount('flat.nilai_anggaran') }} as amount
    from flat
    inner join submissions on flat._batch_id = submissions.batch_id

),

unioned as (

    select * from siskeudes_lines
    union all
    select * from flat_lines

),

coded as (

    select
        fiscal_year,
        village_code,
        regency_code,
        {{ apbdes_codes('kegiatan_id', 'kd_rincian') }},
        sub_rincian,
        line_number,
        description,
        funding_source,
        amount_original,
        amount_change,
        amount,
        submission_format,
        batch_id,
        source_table,
        source_row_number
    from unioned

)

select * from coded
