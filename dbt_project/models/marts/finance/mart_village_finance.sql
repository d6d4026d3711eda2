-- One row per desa and fiscal year: APBDes revenue by source, spending by bidang, financing,
-- SiLPA, each as budget (after any budget change) and as realised, from the winning
-- submission of the regency and year. Incremental like its input: a run rebuilds only the
-- regency-years whose accepted submission it does not hold yet.
-- depends_on: {{ ref('stg_apbdes__submissions') }}

{{ apbdes_incremental_config(year_column='year', batch_index=false) }}

{%- set changed = apbdes_changed_submissions() %}

with

accounts as (

    select * from {{ ref('int_apbdes__village_year_accounts') }}
    {% if is_incremental() -%}
        where {{ batch_filter('submission_batch_id', changed) }}
    {%- endif %}

),

villages as (

    select
        village_code,
        village_name,
        district_name,
        regency_name
    from {{ ref('dim_village') }}
    where is_current

),

classified as (

    select
        fiscal_year,
        village_code,
        regency_code,
        submission_batch_id,
        submission_format,
        account_group,
        bidang_code,
        account_jenis_code,
        budget_amount,
        realised_amount,
        case
            when account_group <> 'pendapatan' then null
            when account_jenis_code like '4.1.%' then 'pades'
            when account_jenis_code = '4.2.1' then 'dana_desa'
            when account_jenis_code = '4.2.2' then 'tax_levy_share'
            when account_jenis_code = '4.2.3' then 'alokasi_dana_desa'
            when account_jenis_code in ('4.2.4', '4.2.5') then 'financial_aid'
            else 'other_revenue'
        end as revenue_source
    from accounts

),

-- every measure as budget and as realised, per village and year; a kind of line the desa
-- does not have is zero
{%- set measures = {
    'dana_desa': "revenue_source = 'dana_desa'",
    'alokasi_dana_desa': "revenue_source = 'alokasi_dana_desa'",
    'pades': "revenue_source = 'pades'",
    'pades_bumdes': "account_jenis_code = '4.1.1'",
    'tax_levy_share': "revenue_source = 'tax_levy_share'",
    'financial_aid': "revenue_source = 'financial_aid'",
    'other_revenue': "revenue_source = 'other_revenue'",
    'revenue': "account_group = 'pendapatan'",
    'spending_bidang_1': "account_group = 'belanja' and bidang_code = '1'",
    'spending_bidang_2': "account_group = 'belanja' and bidang_code = '2'",
    'spending_bidang_3': "account_group = 'belanja' and bidang_code = '3'",
    'spending_bidang_4': "account_group = 'belanja' and bidang_code = '4'",
    'spending_bidang_5': "account_group = 'belanja' and bidang_code = '5'",
    'spending': "account_group = 'belanja'",
    'financing_receipts': "account_group = 'pembiayaan_penerimaan'",
    'silpa_previous_year': "account_jenis_code = '6.1.1'",
    'financing_expenditure': "account_group = 'pembiayaan_pengeluaran'",
    'capital_participation': "account_jenis_code = '6.2.2'",
} %}

pivoted as (

    select
        fiscal_year,
        village_code,
        regency_code,
        submission_batch_id,
        submission_format,
        {% for kind in ['budget', 'realised'] -%}
            {% for measure, condition in measures.items() -%}
                coalesce(sum({{ kind }}_amount) filter (where {{ condition }}), 0)
                    as {{ measure }}_{{ kind }},
            {% endfor -%}
        {% endfor -%}
        count(*) as account_rows
    from classified
    group by
        fiscal_year,
        village_code,
        regency_code,
        submission_batch_id,
        submission_format

),

-- names beside the codes: the village's current version in the region master; and
-- whether the submission is real or generated
named as (

    select
        pivoted.*,
        villages.village_name,
        villages.district_name,
        villages.regency_name,
        load_batches.data_origin
    from pivoted
    left join villages on pivoted.village_code = villages.village_code
    left join {{ ref('stg_audit__load_batches') }} as load_batches
        on pivoted.submission_batch_id = load_batches.batch_id

),

final as (

    select
        village_code,
        fiscal_year as year,
        make_date(fiscal_year, 1, 1) as date,
        village_name,
        left(village_code, 6) as district_code,
        district_name,
        regency_code,
        regency_name,
        {% for kind in ['budget', 'realised'] -%}
            dana_desa_{{ kind }},
            alokasi_dana_desa_{{ kind }},
            pades_{{ kind }},
            pades_bumdes_{{ kind }},
            tax_levy_share_{{ kind }},
            financial_aid_{{ kind }},
            other_revenue_{{ kind }},
            revenue_{{ kind }},
            {% for bidang in range(1, 6) -%}
                spending_bidang_{{ bidang }}_{{ kind }},
            {% endfor -%}
            spending_{{ kind }},
            revenue_{{ kind }} - spending_{{ kind }} as surplus_deficit_{{ kind }},
            financing_receipts_{{ kind }},
            silpa_previous_year_{{ kind }},
            financing_expenditure_{{ kind }},
            capital_participation_{{ kind }},
            financing_receipts_{{ kind }} - financing_expenditure_{{ kind }}
                as net_financing_{{ kind }},
            revenue_{{ kind }} - spending_{{ kind }}
            + financing_receipts_{{ kind }} - financing_expenditure_{{ kind }}
                as silpa_{{ kind }},
        {% endfor -%}
        -- realised over budgeted spending; not capped (scores cap it), null without a budget
        case
            when spending_budget > 0 then round(spending_realised / spending_budget, 4)
        end as absorption_rate,
        submission_batch_id,
        submission_format,
        coalesce(data_origin, 'real') as data_origin
    from named

)

select * from final
