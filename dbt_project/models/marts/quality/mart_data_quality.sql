-- Data quality over time: per day (WIB), layer, source, dataset and regency, what arrived
-- (batches and rows, by their current gate status) and what the quality checks found.
{#- The daily counts: of the batches landed, and of the quality checks run. -#}
{%- set batch_counts = [
    'batches_received', 'batches_validated', 'batches_failed', 'batches_rejected',
    'batches_pending', 'rows_received', 'rows_loaded', 'rows_quarantined',
] %}
{%- set check_counts = [
    'validations', 'validations_passed', 'expectations_evaluated', 'critical_failures',
    'warnings',
] %}

with

batches as (

    select * from {{ ref('stg_audit__load_batches') }}

),

dq_runs as (

    select * from {{ ref('stg_audit__dq_runs') }}

),

-- The regency the gate found for a batch (its latest validation; survey, BUMDes and OJK files
-- are one regency's only by their rows), else the regency its partition names.
validated_regency as (

    select
        batch_id,
        regency_code,
        row_number() over (partition by batch_id order by dq_run_id desc) as recency_rank
    from dq_runs
    where batch_id is not null

),

batch_days as (

    select
        cast(timezone('Asia/Jakarta', b.received_at) as date) as activity_date,
        b.source,
        b.dataset,
        coalesce(v.regency_code, b.partition_regency_code) as regency_code,
        b.status,
        b.rows_received,
        b.rows_loaded,
        b.rows_quarantined
    from batches as b
    left join validated_regency as v
        on b.batch_id = v.batch_id and v.recency_rank = 1

),

batch_activity as (

    select
        activity_date,
        'batch' as layer,
        source,
        dataset,
        regency_code,
        count(*) as batches_received,
        count(*) filter (where status = 'validated') as batches_validated,
        count(*) filter (where status = 'failed') as batches_failed,
        count(*) filter (where status = 'rejected') as batches_rejected,
        count(*) filter (
            where status in ('received', 'loaded', 'validating')
        ) as batches_pending,
        coalesce(sum(rows_received), 0) as rows_received,
        coalesce(sum(rows_loaded), 0) as rows_loaded,
        coalesce(sum(rows_quarantined), 0) as rows_quarantined,
        {% for count in check_counts -%}
            0 as {{ count }},
        {% endfor -%}
        cast(null as timestamptz) as last_checked_at
    from batch_days
    group by activity_date, source, dataset, regency_code

),

check_days as (

    select
        cast(timezone('Asia/Jakarta', checked_at) as date) as activity_date,
        layer,
        source,
        dataset,
        regency_code,
        passed,
        expectations_evaluated,
        critical_failures,
        warnings,
        checked_at
    from dq_runs

),

check_activity as (

    select
        activity_date,
        layer,
        source,
        dataset,
        regency_code,
        {% for count in batch_counts -%}
            0 as {{ count }},
        {% endfor -%}
        count(*) as validations,
        count(*) filter (where passed) as validations_passed,
        sum(expectations_evaluated) as expectations_evaluated,
        sum(critical_failures) as critical_failures,
        sum(warnings) as warnings,
        max(checked_at) as last_checked_at
    from check_days
    group by activity_date, layer, source, dataset, regency_code

),

activity as (

    select * from batch_activity
    union all
    select * from check_activity

),

daily as (

    select
        activity_date,
        layer,
        source,
        dataset,
        regency_code,
        {% for count in batch_counts + check_counts -%}
            cast(sum({{ count }}) as bigint) as {{ count }},
        {% endfor -%}
        max(last_checked_at) as last_checked_at
    from activity
    group by activity_date, layer, source, dataset, regency_code

),

final as (

    select
        md5(concat_ws(
            '|', activity_date, layer, source, dataset, coalesce(regency_code, '')
        )) as data_quality_key,
        activity_date,
        layer,
        source,
        dataset,
        regency_code,
        batches_received,
        batches_validated,
        batches_failed,
        batches_rejected,
        batches_pending,
        rows_received,
        rows_loaded,
        rows_quarantined,
        cast(
            cast(rows_quarantined as numeric) / nullif(rows_received, 0) as numeric(7, 4)
        ) as quarantine_rate,
        validations,
        validations_passed,
        validations - validations_passed as validations_failed,
        cast(
            cast(validations_passed as numeric) / nullif(validations, 0) as numeric(7, 4)
        ) as validation_pass_rate,
        expectations_evaluated,
        critical_failures,
        warnings,
        cast(
            cast(expectations_evaluated - critical_failures - warnings as numeric)
            / nullif(expectations_evaluated, 0) as numeric(7, 4)
        ) as expectation_pass_rate,
        last_checked_at
    from daily

)

select * from final
