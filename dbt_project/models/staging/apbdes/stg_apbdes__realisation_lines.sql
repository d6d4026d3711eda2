-- Realisation lines of the winning submission of each regency and year, dated where the
-- file dates them: revenue received (Ta_TBPRinci), spending paid directly (Ta_SPPRinci of
-- an LS payment request) or accounted for after an advance (Ta_SPJRinci), and financing
-- (Ta_JurnalUmumRinci lines on 6.x accounts); or the flat template's yearly realisation.
-- A table, incremental by regency-year as the finance models built on it: its tests and
-- those models read millions of lines, and a view would join the raw tables for each.

{{ apbdes_incremental_config(batch_column='batch_id') }}

{%- set changed = apbdes_changed_submissions('batch_id') %}

with

submissions as (

    select * from {{ ref('stg_apbdes__submissions') }}
    {{ apbdes_changed_only('batch_id', changed) }}

),

tbp as (

    select * from {{ source('apbdes', 'apbdes_ta_tbp') }}
    {{ apbdes_changed_only('_batch_id', changed) }}

),

tbp_rinci as (

    select * from {{ source('apbdes', 'apbdes_ta_tbprinci') }}
    {{ apbdes_changed_only('_batch_id', changed) }}

),

spp as (

    select * from {{ source('apbdes', 'apbdes_ta_spp') }}
    {{ apbdes_changed_only('_batch_id', changed) }}

),

spp_rinci as (

    select * from {{ source('apbdes', 'apbdes_ta_spprinci') }}
    {{ apbdes_changed_only('_batch_id', changed) }}

),

spj as (

    select * from {{ source('apbdes', 'apbdes_ta_spj') }}
    {{ apbdes_changed_only('_batch_id', changed) }}

),

spj_rinci as (

    select * from {{ source('apbdes', 'apbdes_ta_spjrinci') }}
    {{ apbdes_changed_only('_batch_id', changed) }}

),

journal as (

    select * from {{ source('apbdes', 'apbdes_ta_jurnalumum') }}
    {{ apbdes_changed_only('_batch_id', changed) }}

),

journal_rinci as (

    select * from {{ source('apbdes', 'apbdes_ta_jurnalumumrinci') }}
    {{ apbdes_changed_only('_batch_id', changed) }}

),

flat as (

    select * from {{ source('apbdes', 'apbdes_flat') }}
    {{ apbdes_changed_only('_batch_id', changed) }}

),

revenue as (

    {{ apbdes_realisation_lines(
        'revenue', 'tbp_rinci', 'tbp', 'tgl_bukti', 'no_bukti', 'Ta_TBPRinci'
    ) }}

),

spending_direct as (

    {{ apbdes_realisation_lines(
        'spending', 'spp_rinci', 'spp', 'tgl_spp', 'no_spp', 'Ta_SPPRinci',
        kegiatan=true, header_join='inner'
    ) }}
    -- an advance (UM) is realised by its accountability report, not when it is paid out
    where upper(btrim(spp.jn_spp)) = 'LS'

),

spending_accounted as (

    {{ apbdes_realisation_lines(
        'spending', 'spj_rinci', 'spj', 'tgl_spj', 'no_spj', 'Ta_SPJRinci', kegiatan=true
    ) }}

),

journal_lines as (

    select
        journal_rinci.*,
        {{ apbdes_parse_amount('journal_rinci.debet') }} as debet_amount,
        {{ apbdes_parse_amount('journal_rinci.kredit') }} as kredit_amount
    from journal_rinci
    where btrim(journal_rinci.kd_rincian) like '6.%'

),

financing as (

    {%- set financing_amount -%}
        -- receipts (6.1) are credited, expenditure (6.2) debited; a reversal nets out
        case
            when btrim(journal_lines.kd_rincian) like '6.1.%'
                then journal_lines.kredit_amount - journal_lines.debet_amount
            else journal_lines.debet_amount - journal_lines.kredit_amount
        end
    {%- endset %}
    {{ apbdes_realisation_lines(
        'financing', 'journal_lines', 'journal', 'tanggal', 'nobukti', 'Ta_JurnalUmumRinci',
        amount=financing_amount
    ) }}

),

flat_lines as (

    select
        submissions.fiscal_year,
        submissions.regency_code,
        regexp_replace(flat.kd_desa, '[^0-9]', '', 'g') as village_code,
        case
            when btrim(flat.kd_rincian) like '4.%' then 'revenue'
            when btrim(flat.kd_rincian) like '5.%' then 'spending'
            else 'financing'
        end as realisation_kind,
        null::date as realised_on,
        null as document_number,
        nullif(btrim(flat.kd_keg), '') as kegiatan_id,
        btrim(flat.kd_rincian) as kd_rincian,
        null as funding_source,
        {{ apbdes_parse_amount('flat.nilai_realisasi') }} as amount,
        submissions.submission_format,
        flat._batch_id as batch_id,
        'flat' as source_table,
        flat._row_number as source_row_number
    from flat
    inner join submissions on flat._batch_id = submissions.batch_id
    -- the template has a realisation cell on every budget line; zero is nothing realised
    where {{ apbdes_parse_amount('flat.nilai_realisasi') }} <> 0

),

unioned as (

    select * from revenue
    union all
    select * from spending_direct
    union all
    select * from spending_accounted
    union all
    select * from financing
    union all
    select * from flat_lines

),

coded as (

    select
        fiscal_year,
        village_code,
        regency_code,
        realisation_kind,
        realised_on,
        extract(quarter from realised_on)::integer as realised_quarter,
        document_number,
        {{ apbdes_codes('kegiatan_id', 'kd_rincian') }},
        funding_source,
        amount,
        submission_format,
        batch_id,
        source_table,
        source_row_number
    from unioned

)

select * from coded
