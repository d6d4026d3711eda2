-- Financial access by regency and year: villages with a Laku Pandai agent and without any
-- access point, and the bank offices, ATMs and KUR credit of the regency's districts.
-- District figures repeat on every village of mart_financial_access: they are taken once
-- per district here, never summed over villages.

with

village_access as (

    select * from {{ ref('mart_financial_access') }}

),

regencies as (

    {{ regency_names() }}

),

villages as (

    select
        regency_code,
        year,
        max(access_as_of) as access_as_of,
        count(*) as village_count,
        count(*) filter (where has_laku_pandai_agent) as villages_with_agent_count,
        count(*) filter (where is_without_access_point) as villages_without_access_point_count,
        sum(laku_pandai_agent_count) as laku_pandai_agent_count,
        max(kur_quarters_reported) as kur_quarters_reported,
        {{ data_origin_agg('data_origin') }} as data_origin
    from village_access
    group by regency_code, year

),

districts as (

    select distinct
        regency_code,
        year,
        district_code,
        district_bank_office_count,
        district_atm_count,
        district_kur_debtor_count,
        district_kur_disbursed_amount
    from village_access

),

district_totals as (

    select
        regency_code,
        year,
        count(*) as district_count,
        sum(district_bank_office_count) as bank_office_count,
        sum(district_atm_count) as atm_count,
        sum(district_kur_debtor_count) as kur_debtor_count,
        sum(district_kur_disbursed_amount) as kur_disbursed_amount
    from districts
    group by regency_code, year

),

final as (

    select
        villages.regency_code,
        regencies.regency_name,
        villages.year,
        make_date(villages.year, 1, 1) as date,
        villages.access_as_of,
        villages.village_count::integer as village_count,
        villages.villages_with_agent_count::integer as villages_with_agent_count,
        round(villages.villages_with_agent_count::numeric / villages.village_count, 4)
            as villages_with_agent_share,
        villages.villages_without_access_point_count::integer
            as villages_without_access_point_count,
        villages.laku_pandai_agent_count::integer as laku_pandai_agent_count,
        district_totals.district_count::integer as district_count,
        district_totals.bank_office_count::integer as bank_office_count,
        district_totals.atm_count::integer as atm_count,
        villages.kur_quarters_reported::integer as kur_quarters_reported,
        district_totals.kur_debtor_count::bigint as kur_debtor_count,
        district_totals.kur_disbursed_amount,
        villages.data_origin
    from villages
    inner join district_totals
        on
            villages.regency_code = district_totals.regency_code
            and villages.year = district_totals.year
    left join regencies on villages.regency_code = regencies.regency_code

)

select * from final
