-- Editions usable downstream: those with a validated batch for every dataset of the region
-- master (regencies, districts and villages), ordered by the date they took effect. A
-- synthetic supplement (lumbung generate --scale) never makes an edition complete.

with

editions as (

    select * from {{ ref('ref_kemendagri_editions') }}

),

batches as (

    select * from {{ ref('stg_audit__region_batches') }}

),

complete_editions as (

    select edition
    from batches
    where not is_synthetic
    group by edition
    having count(distinct dataset) = 3

),

ordered as (

    select
        editions.edition,
        editions.decree,
        editions.valid_from,
        row_number() over (order by editions.valid_from) as edition_seq,
        lead(editions.edition) over (order by editions.valid_from) as next_edition,
        lead(editions.valid_from) over (order by editions.valid_from) as next_valid_from
    from editions
    inner join complete_editions on editions.edition = complete_editions.edition

),

final as (

    select
        edition,
        decree,
        valid_from,
        edition_seq,
        next_edition,
        next_valid_from,
        next_edition is null as is_latest
    from ordered

)

select * from final
