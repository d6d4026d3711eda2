-- A table, not a view: every answer column is mapped through the answer seed, and the tests
-- that read this model many times cost minutes on a view but milliseconds on a table.
{{ config(materialized='table') }}

{#- The questions, in the order of their columns: name, answer kind (ref_survey_answers),
    raw column, and the aggregate giving the answer's value. -#}
{%- set questions = [
    ('has_website', 'yes_no', 'memiliki_website', 'bool_or(answer_value::boolean)'),
    ('information_system', 'information_system', 'sistem_informasi_desa', 'max(answer_value)'),
    ('online_letter_service', 'yes_no', 'layanan_surat_online', 'bool_or(answer_value::boolean)'),
    (
        'apbdes_published', 'apbdes_publication', 'apbdes_dipublikasikan',
        "bool_or(answer_value <> 'none')"
    ),
    ('bpd_meetings', 'count', 'jumlah_rapat_bpd', 'max(answer_value::bigint)'),
    ('village_regulations', 'count', 'jumlah_perdes', 'max(answer_value::bigint)'),
    ('digital_payment', 'yes_no', 'pembayaran_digital', 'bool_or(answer_value::boolean)'),
    ('office_internet', 'yes_no', 'akses_internet_kantor', 'bool_or(answer_value::boolean)'),
    ('population', 'count', 'jumlah_penduduk', 'max(answer_value::bigint)'),
] %}
{#- The columns of a submission that every answer row carries. -#}
{%- set submission_columns = [
    'village_code', 'survey_year', 'submitted_at', 'submission_count', '_batch_id',
    '_row_number', 'nama_desa', 'jabatan_responden', 'alamat_website',
] %}

with

batches as (

    select
        batch_id,
        partition_key::integer as survey_year
    {{ from_visible_batches('survey', 'responses') }}

),

answer_map as (

    select
        question_kind,
        answer_text,
        answer_value
    from {{ ref('ref_survey_answers') }}

),

source as (

    select * from {{ source('survey', 'survey_responses') }}

),

submissions as (

    select
        source.*,
        batches.survey_year,
        regexp_replace(source.kode_desa, '[^0-9]', '', 'g') as village_code,
        case
            -- form tool CSV exports, Indonesian locale
            when trim(source.timestamp) ~ '^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}$'
                then to_timestamp(trim(source.timestamp), 'DD/MM/YYYY HH24:MI:SS')::timestamp
            when trim(source.timestamp) ~ '^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}$'
                then to_timestamp(trim(source.timestamp), 'DD/MM/YYYY HH24:MI')::timestamp
            -- XLSX date-time cells, read as ISO text
            when trim(source.timestamp) ~ '^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$'
                then trim(source.timestamp)::timestamp
        end as submitted_at
    from source
    inner join batches on source._batch_id = batches.batch_id

),

ranked as (

    select
        *,
        row_number() over (
            partition by village_code, survey_year
            order by submitted_at desc, _batch_id desc, _row_number desc
        ) as recency_rank,
        count(*) over (partition by village_code, survey_year) as submission_count
    from submissions

),

latest as (

    select * from ranked
    where recency_rank = 1

),

-- One row per (submission, question): every answer is read the same way. The submission's
-- own columns ride along, so the pivot below regroups them without joining back to latest
-- (that join made Postgres, which expects one row from the window filter, re-run the whole
-- pivot for every submission: minutes instead of a second).
answers as (

    select
        latest.{{ submission_columns | join(', latest.') }},
        question.question_name,
        question.question_kind,
        nullif(trim(question.answer), '') as answer,
        -- lookup key: lower case, whitespace collapsed, surrounding spaces and dots dropped;
        -- blank and '-' mean the question was skipped
        nullif(
            nullif(
                trim(both ' .' from lower(regexp_replace(question.answer, '\s+', ' ', 'g'))),
                '-'
            ),
            ''
        ) as answer_key
    from latest
    cross join lateral (
        values
        {% for name, kind, column, _ in questions -%}
            ('{{ name }}', '{{ kind }}', latest.{{ column }}){{ ',' if not loop.last }}
        {% endfor -%}
    ) as question (question_name, question_kind, answer)

),

interpreted as (

    select
        answers.{{ submission_columns | join(', answers.') }},
        answers.question_name,
        answers.answer,
        answers.answer_key,
        case
            when answers.question_kind <> 'count' then answer_map.answer_value
            -- a count as typed: "12", "12 kali", "3.456" (thousands dot), "3.456 jiwa"
            when
                answers.answer_key
                ~ '^(\d{1,3}(\.\d{3})+|\d+)( ?(kali|perdes|orang|jiwa|buah|x))?$'
                then replace(substring(answers.answer_key from '^[0-9.]+'), '.', '')
        end as answer_value
    from answers
    left join answer_map
        on
            answers.question_kind = answer_map.question_kind
            and answers.answer_key = answer_map.answer_text

),

flagged as (

    select
        interpreted.*,
        coalesce(interpreted.answer_key is not null and interpreted.answer_value is null, false)
            as is_uninterpreted
    from interpreted

),

pivoted as (

    select
        {{ submission_columns | join(', ') }},
        {% for name, _, _, value in questions -%}
            {{ value }} filter (where question_name = '{{ name }}') as {{ name }},
            {% if name == 'apbdes_published' -%}
                max(
                    case
                        when answer_value in ('board', 'online', 'board_and_online')
                            then answer_value
                    end
                ) filter (where question_name = '{{ name }}') as apbdes_publication_channel,
            {% endif -%}
            max(answer) filter (where question_name = '{{ name }}') as {{ name }}_answer,
            bool_or(is_uninterpreted) filter (where question_name = '{{ name }}')
                as {{ name }}_uninterpreted,
        {% endfor -%}
        count(*) filter (where is_uninterpreted) as uninterpreted_answer_count
    from flagged
    group by {{ submission_columns | join(', ') }}

),

final as (

    select
        pivoted.village_code,
        pivoted.survey_year,
        pivoted.submitted_at,
        pivoted.submission_count,
        pivoted._batch_id as batch_id,
        pivoted._row_number as source_row_number,
        trim(regexp_replace(pivoted.nama_desa, '\s+', ' ', 'g')) as village_name_reported,
        nullif(trim(pivoted.jabatan_responden), '') as respondent_role,
        nullif(trim(pivoted.alamat_website), '') as website_url,
        {% for name, _, _, _ in questions -%}
            pivoted.{{ name }},
            {{ 'pivoted.apbdes_publication_channel,' if name == 'apbdes_published' }}
            pivoted.{{ name }}_answer,
            pivoted.{{ name }}_uninterpreted,
        {% endfor -%}
        pivoted.uninterpreted_answer_count
    from pivoted

)

select * from final
