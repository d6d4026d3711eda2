-- KUR credit is a flow: a district's year is the sum of its quarters. A quarter's report is
-- complete, so a district missing from a reported quarter got nothing in it; how many
-- quarters the province reported for the year says whether the year is complete.

with

kur as (

    select * from {{ ref('stg_ojk__kur_district_quarter') }}

),

reported_quarters as (

    select
        kur_year,
        count(distinct kur_quarter) as quarters_reported
    from kur
    group by kur_year

),

district_years as (

    select
        district_code,
        kur_year,
        count(*) as quarters_with_credit,
        sum(debtor_count) as debtor_count,
        sum(disbursed_amount) as disbursed_amount,
        sum(disbursed_super_micro) as disbursed_super_micro,
        sum(disbursed_micro) as disbursed_micro,
        sum(disbursed_small) as disbursed_small
    from kur
    group by district_code, kur_year

),

final as (

    select
        district_years.district_code,
        district_years.kur_year,
        reported_quarters.quarters_reported,
        district_years.quarters_with_credit,
        district_years.debtor_count,
        district_years.disbursed_amount,
        district_years.disbursed_super_micro,
        district_years.disbursed_micro,
        district_years.disbursed_small
    from district_years
    inner join reported_quarters on district_years.kur_year = reported_quarters.kur_year

)

select * from final
