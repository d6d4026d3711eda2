with

batches as (

    select
        batch_id,
        split_part(partition_key, '-Q', 1)::integer as kur_year,
        split_part(partition_key, '-Q', 2)::integer as kur_quarter,
        -- a report delivered again for the same quarter replaces the earlier one whole
        row_number() over (partition by partition_key order by batch_id desc) as recency_rank
    {{ from_visible_batches('ojk', 'kur') }}

),

reports as (

    select
        batch_id,
        kur_year,
        kur_quarter
    from batches
    where recency_rank = 1

),

credit as (

    select
        reports.kur_year,
        reports.kur_quarter,
        reports.batch_id,
        regexp_replace(kur.kode_kecamatan, '[^0-9]', '', 'g') as district_code,
        trim(kur.skema) as scheme,
        trim(regexp_replace(kur.penyalur, '\s+', ' ', 'g')) as lender,
        {{ parse_id_number('kur.jumlah_debitur') }}::bigint as debtor_count,
        {{ parse_id_number('kur.nilai_penyaluran') }} as disbursed_amount
    from {{ source('ojk', 'ojk_kur') }} as kur
    inner join reports on kur._batch_id = reports.batch_id

),

district_quarter as (

    select
        district_code,
        kur_year,
        kur_quarter,
        make_date(kur_year, (kur_quarter - 1) * 3 + 1, 1) as quarter_start,
        left(district_code, 4) as regency_code,
        sum(debtor_count) as debtor_count,
        sum(disbursed_amount) as disbursed_amount,
        coalesce(sum(disbursed_amount) filter (where lower(scheme) = 'super mikro'), 0)
            as disbursed_super_micro,
        coalesce(sum(disbursed_amount) filter (where lower(scheme) = 'mikro'), 0)
            as disbursed_micro,
        coalesce(sum(disbursed_amount) filter (where lower(scheme) = 'kecil'), 0)
            as disbursed_small,
        count(distinct lender) as lender_count,
        max(batch_id) as batch_id
    from credit
    group by district_code, kur_year, kur_quarter

)

select * from district_quarter
