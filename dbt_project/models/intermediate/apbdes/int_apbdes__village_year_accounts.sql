-- Budget and realisation of every desa and fiscal year, summed per account group, bidang,
-- sub-bidang and account jenis, from the winning submission of its regency and year.
-- The heavy step of the finance marts (millions of staging lines per year), so it is
-- incremental: a run reads only the submissions it does not hold yet (new or replacing
-- resubmissions, found by batch id) and replaces their regency-years (delete+insert).
-- A full refresh reads every submission and gives the same table.
-- depends_on: {{ ref('stg_apbdes__submissions') }}

{{ apbdes_incremental_config() }}

{%- set changed = apbdes_changed_submissions() %}
{#- The columns a row is summed by: its desa-year (with the regency) and account. -#}
{%- set account_columns = [
    'fiscal_year', 'village_code', 'regency_code', 'account_group', 'bidang_code',
    'sub_bidang_code', 'account_jenis_code',
] %}

with

{{ apbdes_changed_lines(changed) }},

amounts as (

    select
        {{ account_columns | join(', ') }},
        amount as budget_amount,
        0::numeric as realised_amount,
        batch_id,
        submission_format
    from budget_lines

    union all

    select
        {{ account_columns | join(', ') }},
        0::numeric as budget_amount,
        amount as realised_amount,
        batch_id,
        submission_format
    from realisation_lines

),

summed as (

    select
        {{ account_columns | join(', ') }},
        sum(budget_amount) as budget_amount,
        sum(realised_amount) as realised_amount,
        batch_id as submission_batch_id,
        submission_format
    from amounts
    group by
        {{ account_columns | join(', ') }},
        batch_id,
        submission_format

)

select * from summed
