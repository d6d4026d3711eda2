-- An APBDes balances: revenue + financing receipts = spending + financing expenditure
-- (Permendagri 20/2018: the surplus or deficit is covered by net financing). Returns every
-- desa and year whose budget does not (of the lines the build tests: batches_to_test).
{{ config(severity='warn') }}

select
    fiscal_year,
    village_code,
    sum(
        case
            when account_group in ('pendapatan', 'pembiayaan_penerimaan') then amount
            else -amount
        end
    ) as imbalance
from {{ batches_to_test(ref('stg_apbdes__budget_lines')) }}
group by fiscal_year, village_code
having
    sum(
        case
            when account_group in ('pendapatan', 'pembiayaan_penerimaan') then amount
            else -amount
        end
    ) <> 0
