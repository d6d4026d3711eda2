{#
    The chart codes of an APBDes line, as select-list items: kegiatan_code, bidang_code,
    sub_bidang_code (from a Siskeudes kegiatan id such as '02.03.10.', null on revenue and
    financing lines), account_code, account_jenis_code and account_group (from a Siskeudes
    account such as '5.2.1.01.').
#}
{% macro apbdes_codes(kegiatan_id, kd_rincian) -%}
    case when {{ kegiatan_id }} is not null then
        ltrim(split_part({{ kegiatan_id }}, '.', 1), '0') || '.'
        || ltrim(split_part({{ kegiatan_id }}, '.', 2), '0') || '.'
        || split_part({{ kegiatan_id }}, '.', 3)
    end as kegiatan_code,
    case when {{ kegiatan_id }} is not null then
        ltrim(split_part({{ kegiatan_id }}, '.', 1), '0')
    end as bidang_code,
    case when {{ kegiatan_id }} is not null then
        ltrim(split_part({{ kegiatan_id }}, '.', 1), '0') || '.'
        || ltrim(split_part({{ kegiatan_id }}, '.', 2), '0')
    end as sub_bidang_code,
    rtrim({{ kd_rincian }}, '.') as account_code,
    split_part({{ kd_rincian }}, '.', 1) || '.' || split_part({{ kd_rincian }}, '.', 2) || '.'
    || split_part({{ kd_rincian }}, '.', 3) as account_jenis_code,
    case
        when {{ kd_rincian }} like '4.%' then 'pendapatan'
        when {{ kd_rincian }} like '5.%' then 'belanja'
        when {{ kd_rincian }} like '6.1.%' then 'pembiayaan_penerimaan'
        when {{ kd_rincian }} like '6.2.%' then 'pembiayaan_pengeluaran'
    end as account_group
{%- endmacro %}
