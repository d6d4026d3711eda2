-- Realisation lines of the winning submission of each regency and year, dated where the
-- file dates them: revenue received (Ta_TBPRinci), spending paid directly (Ta_SPPRinci of
-- an LS payment request) or accounted for after an advance (Ta_SPJRinci), and financing
-- (Ta_JurnalUmumRinci lines on 6.x accounts); or the flat template's yearly realisation.

with

submissions as (

    select * from {{ ref('stg_apbdes__submissions') }}

),

tbp as (

    select * from {{ source('apbdes', 'apbdes_ta_tbp') }}

),

tbp_rinci as (

    select * from {{ source('apbdes', 'apbdes_ta_tbprinci') }}

),

spp as (

    select * from {{ source('apbdes', 'apbdes_ta_spp') }}

),

spp_rinci as (

    select * from {{ source('apbdes', 'apbdes_ta_spprinci') }}

),

spj as (

    select * from {{ source('apbdes', 'apbdes_ta_spj') }}

),

spj_rinci as (

    select * from {{ source('apbdes', 'apbdes_ta_spjrinci') }}

),

journal as (

    select * from {{ source('apbdes', 'apbdes_ta_jurnalumum') }}

),

journal_rinci as (

    select * from {{ source('apbdes', 'apbdes_ta_jurnalumumrinci') }}

),

flat as (

    select * from {{ source('apbdes', 'apbdes_flat') }}

),

revenue as (

    select
        submissions.fiscal_year,
        submissions.regency_code,
        submissions.regency_code
        || regexp_replace(tbp_rinci.kd_desa, '[^0-9]', '', 'g') as village_code,
        'revenue' as realisation_kind,
        to_date(btrim(tbp.tgl_bukti, E' \t\r\n'), 'DD/MM/YYYY') as realised_on,
        btrim(tbp_rinci.no_bukti) as document_number,
        null as kegiatan_id,
        btrim(tbp_rinci.kd_rincian) as kd_rincian,
        btrim(tbp_rinci.sumberdana) as funding_source,
        {{ apbdes_parse_amount('tbp_rinci.nilai') }} as amount,
        submissions.submission_format,
        tbp_rinci._batch_id as batch_id,
        'Ta_TBPRinci' as source_table,
        tbp_rinci._row_number as source_row_number
    from tbp_rinci
    inner join submissions on tbp_rinci._batch_id = submissions.batch_id
    left join tbp
        on
            tbp_rinci._batch_id = tbp._batch_id
            and tbp_rinci.no_bukti = tbp.no_bukti

),

spending_direct as (

    select
        submissions.fiscal_year,
        submissions.regency_code,
        submissions.regency_code
        || regexp_replace(spp_rinci.kd_desa, '[^0-9]', '', 'g') as village_code,
        'spending' as realisation_kind,
        to_date(btrim(spp.tgl_spp, E' \t\r\n'), 'DD/MM/YYYY') as realised_on,
        btrim(spp_rinci.no_spp) as document_number,
        substr(btrim(spp_rinci.kd_keg), length(btrim(spp_rinci.kd_desa)) + 1) as kegiatan_id,
        btrim(spp_rinci.kd_rincian) as kd_rincian,
        btrim(spp_rinci.sumberdana) as funding_source,
        {{ apbdes_parse_amount('spp_rinci.nilai') }} as amount,
        submissions.submission_format,
        spp_rinci._batch_id as batch_id,
        'Ta_SPPRinci' as source_table,
        spp_rinci._row_number as source_row_number
    from spp_rinci
    inner join submissions on spp_rinci._batch_id = submissions.batch_id
    inner join spp
        on
            spp_rinci._batch_id = spp._batch_id
            and spp_rinci.no_spp = spp.no_spp
    -- an advance (UM) is realised by its accountability report, not when it is paid out
    where upper(btrim(spp.jn_spp)) = 'LS'

),

spending_accounted as (

    select
        submissions.fiscal_year,
        submissions.regency_code,
        submissions.regency_code
        || regexp_replace(spj_rinci.kd_desa, '[^0-9]', '', 'g') as village_code,
        'spending' as realisation_kind,
        to_date(btrim(spj.tgl_spj, E' \t\r\n'), 'DD/MM/YYYY') as realised_on,
        btrim(spj_rinci.no_spj) as document_number,
        substr(btrim(spj_rinci.kd_keg), length(btrim(spj_rinci.kd_desa)) + 1) as kegiatan_id,
        btrim(spj_rinci.kd_rincian) as kd_rincian,
        btrim(spj_rinci.sumberdana) as funding_source,
        {{ apbdes_parse_amount('spj_rinci.nilai') }} as amount,
        submissions.submission_format,
        spj_rinci._batch_id as batch_id,
        'Ta_SPJRinci' as source_table,
        spj_rinci._row_number as source_row_number
    from spj_rinci
    inner join submissions on spj_rinci._batch_id = submissions.batch_id
    left join spj
        on
            spj_rinci._batch_id = spj._batch_id
            and spj_rinci.no_spj = spj.no_spj

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

    select
        submissions.fiscal_year,
        submissions.regency_code,
        submissions.regency_code
        || regexp_replace(journal_lines.kd_desa, '[^0-9]', '', 'g') as village_code,
        'financing' as realisation_kind,
        to_date(btrim(journal.tanggal, E' \t\r\n'), 'DD/MM/YYYY') as realised_on,
        btrim(journal_lines.nobukti) as document_number,
        null as kegiatan_id,
        btrim(journal_lines.kd_rincian) as kd_rincian,
        btrim(journal_lines.sumberdana) as funding_source,
        -- receipts (6.1) are credited, expenditure (6.2) debited; a reversal nets out
        case
            when btrim(journal_lines.kd_rincian) like '6.1.%'
                then journal_lines.kredit_amount - journal_lines.debet_amount
            else journal_lines.debet_amount - journal_lines.kredit_amount
        end as amount,
        submissions.submission_format,
        journal_lines._batch_id as batch_id,
        'Ta_JurnalUmumRinci' as source_table,
        journal_lines._row_number as source_row_number
    from journal_lines
    inner join submissions on journal_lines._batch_id = submissions.batch_id
    left join journal
        on
            journal_lines._batch_id = journal._batch_id
            and journal_lines.nobukti = journal.nobukti

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
