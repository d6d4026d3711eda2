-- Smart Village indicator values from the Smart Village survey (the latest submission of
-- each desa and year): answers as numbers, yes = 1 and no = 0; an unanswered or unreadable
-- answer gives no value (missing, never a zero). Any measure below can be named by the
-- catalogue's `field`. Grain: one row per (village_code, year, indicator_id).
-- A table, as for each source's values: an APBDes resubmission's rebuild reads it as it is.
-- noqa: disable=RF04

{{ config(materialized='table') }}

with

responses as (

    select * from {{ ref('stg_survey__responses') }}

),

measures as (

    select
        responses.village_code,
        responses.survey_year as year,
        measure.field,
        measure.raw_value
    from responses
    cross join lateral (
        values
        ('has_website', responses.has_website::integer::numeric),
        (
            'information_system_in_use',
            case
                when responses.information_system = 'none' then 0
                when responses.information_system is not null then 1
            end::numeric
        ),
        ('online_letter_service', responses.online_letter_service::integer::numeric),
        ('apbdes_published', responses.apbdes_published::integer::numeric),
        ('bpd_meetings', responses.bpd_meetings::numeric),
        ('village_regulations', responses.village_regulations::numeric),
        ('digital_payment', responses.digital_payment::integer::numeric),
        ('office_internet', responses.office_internet::integer::numeric)
    ) as measure (field, raw_value)

),

{{ smart_village_indicator_values('survey') }}
