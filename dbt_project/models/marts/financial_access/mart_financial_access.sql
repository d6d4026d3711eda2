-- Financial access of every current village (desa and kelurahan) in every year with an OJK
-- access report: Laku Pandai agents in the village, bank offices and ATMs in its district
-- (OJK reports those per district) at the year's latest reported month, KUR credit
-- disbursed in its district over the year, and whether the village has no access point.

with

villages as (

    select * from {{ ref('dim_village') }}
    where is_current

),

year_end as (

    select * from {{ ref('int_ojk__access_points_year_end') }}

),

kur as (

    select * from {{ ref('int_ojk__kur_district_year') }}

),

year_origins as (

    select * from {{ ref('int_ojk__year_origins') }}

),

access_years as (

    select distinct
        access_year,
        period_month
    from year_end

),

kur_years as (

    select distinct
        kur_year,
        quarters_reported
    from kur

),

agents as (

    select
        access_year,
        area_code as village_code,
        sum(point_count) as agent_count,
        sum(bank_count) as agent_bank_count
    from year_end
    where access_type = 'laku_pandai_agent'
    group by access_year, area_code

),

offices as (

    select
        access_year,
        district_code,
        sum(point_count) filter (where access_type = 'branch_office') as branch_office_count,
        sum(point_count) filter (
            where access_type = 'sub_branch_office'
        ) as sub_branch_office_count,
        sum(point_count) filter (where access_type = 'cash_office') as cash_office_count,
        sum(point_count) filter (where access_type = 'atm') as atm_count
    from year_end
    where area_level = 'district'
    group by access_year, district_code

),

village_years as (

    select
        villages.village_code,
        access_years.access_year,
        villages.village_name,
        villages.village_type,
        villages.district_code,
        villages.district_name,
        villages.regency_code,
        villages.regency_name,
        access_years.period_month as access_as_of,
        -- a report is complete for its month: a village or district absent from it has none
        coalesce(agents.agent_count, 0) as agent_count,
        coalesce(agents.agent_bank_count, 0) as agent_bank_count,
        coalesce(offices.branch_office_count, 0) as branch_office_count,
        coalesce(offices.sub_branch_office_count, 0) as sub_branch_office_count,
        coalesce(offices.cash_office_count, 0) as cash_office_count,
        coalesce(offices.atm_count, 0) as atm_count,
        coalesce(kur_years.quarters_reported, 0) as kur_quarters_reported,
        -- likewise for KUR, but only in a year with at least one quarterly report
        case
            when kur_years.kur_year is not null then coalesce(kur.debtor_count, 0)
        end as kur_debtor_count,
        case
            when kur_years.kur_year is not null then coalesce(kur.disbursed_amount, 0)
        end as kur_disbursed_amount,
        -- the reports cover the province: a village's year rests on all of them
        coalesce(year_origins.data_origin, 'real') as data_origin
    from villages
    cross join access_years
    left join agents
        on
            villages.village_code = agents.village_code
            and access_years.access_year = agents.access_year
    left join offices
        on
            villages.district_code = offices.district_code
            and access_years.access_year = offices.access_year
    left join kur_years on access_years.access_year = kur_years.kur_year
    left join kur
        on
            villages.district_code = kur.district_code
            and access_years.access_year = kur.kur_year
    left join year_origins on access_years.access_year = year_origins.year

),

final as (

    select
        village_code,
        access_year as year,
        make_date(access_year, 1, 1) as date,
        village_name,
        village_type,
        district_code,
        district_name,
        regency_code,
        regency_name,
        access_as_of,
        agent_count::integer as laku_pandai_agent_count,
        agent_bank_count::integer as laku_pandai_bank_count,
        agent_count > 0 as has_laku_pandai_agent,
        branch_office_count::integer as district_branch_office_count,
        sub_branch_office_count::integer as district_sub_branch_office_count,
        cash_office_count::integer as district_cash_office_count,
        (branch_office_count + sub_branch_office_count + cash_office_count)::integer
            as district_bank_office_count,
        atm_count::integer as district_atm_count,
        branch_office_count + sub_branch_office_count + cash_office_count > 0
            as has_bank_office_in_district,
        -- no agent in the village, and no bank office or ATM anywhere in its district
        agent_count = 0
        and branch_office_count + sub_branch_office_count + cash_office_count + atm_count = 0
            as is_without_access_point,
        kur_quarters_reported::integer as kur_quarters_reported,
        kur_debtor_count::bigint as district_kur_debtor_count,
        kur_disbursed_amount as district_kur_disbursed_amount,
        data_origin
    from village_years

)

select * from final
