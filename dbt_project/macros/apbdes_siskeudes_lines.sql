{#
    The desa code of a Siskeudes line: its regency's code (from the submission) followed by
    the line's Kd_Desa, which Siskeudes numbers within the regency. Needs `submissions`.
#}
{% macro siskeudes_village_code(relation) -%}
    submissions.regency_code || regexp_replace({{ relation }}.kd_desa, '[^0-9]', '', 'g')
{%- endmacro %}


{#
    The kegiatan of a Siskeudes line: its Kd_Keg without the desa code it starts with.
#}
{% macro siskeudes_kegiatan_id(relation) -%}
    substr(btrim({{ relation }}.kd_keg), length(btrim({{ relation }}.kd_desa)) + 1)
{%- endmacro %}


{#
    A select of stg_apbdes__realisation_lines' columns from one Siskeudes detail table
    (`rinci`) of the winning submissions, dated and numbered by its document header table
    (`header`, joined on the batch and `number_column`; left join unless header_join says
    otherwise). kegiatan: whether the lines carry a kegiatan (spending); amount: SQL of the
    amount, by default the line's Nilai.
#}
{% macro apbdes_realisation_lines(
    kind, rinci, header, date_column, number_column, source_table,
    kegiatan=false, amount=none, header_join='left'
) -%}
    select
        submissions.fiscal_year,
        submissions.regency_code,
        {{ siskeudes_village_code(rinci) }} as village_code,
        '{{ kind }}' as realisation_kind,
        to_date(btrim({{ header }}.{{ date_column }}, E' \t\r\n'), 'DD/MM/YYYY') as realised_on,
        btrim({{ rinci }}.{{ number_column }}) as document_number,
        {{ siskeudes_kegiatan_id(rinci) if kegiatan else 'null' }} as kegiatan_id,
        btrim({{ rinci }}.kd_rincian) as kd_rincian,
        btrim({{ rinci }}.sumberdana) as funding_source,
        {{ amount or apbdes_parse_amount(rinci ~ '.nilai') }} as amount,
        submissions.submission_format,
        {{ rinci }}._batch_id as batch_id,
        '{{ source_table }}' as source_table,
        {{ rinci }}._row_number as source_row_number
    from {{ rinci }}
    inner join submissions on {{ rinci }}._batch_id = submissions.batch_id
    {{ header_join }} join {{ header }}
        on
            {{ rinci }}._batch_id = {{ header }}._batch_id
            and {{ rinci }}.{{ number_column }} = {{ header }}.{{ number_column }}
{%- endmacro %}
