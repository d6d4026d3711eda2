-- Editions usable downstream: those with a validated batch for every dataset of the region
-- master (regencies, districts and villages), ordered by the date they took effect. A
-- synthetic supplement (lumbung generate --scale) never makes an edition complete, and
-- neither does a delivery with a file stopped at the gate: the previous edition stays the
-- latest. An edition is accepted from its data: the seed ref_kemendagri_editions only adds
-- its decree and the date it took effect when known (else 1 January of the edition year).

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

known as (

    select
        complete_editions.edition,
        coalesce(
            editions.decree,
            'Kepmendagri edition ' || complete_editions.edition
            || ' (decree not recorded in ref_kemendagri_editions)'
        ) as decree,
        coalesce(
            editions.valid_from, make_date(cast(complete_editions.edition as integer), 1, 1)
        ) as valid_from
    from complete_editions
    left join editions on complete_editions.edition = editions.edition

),

ordered as (

    select
        edition,
        decree,
        valid_from,
        row_number() over (order by valid_from) as edition_seq,
        lead(edition) over (order by valid_from) as next_edition,
        lead(valid_from) over (order by valid_from) as next_valid_from
    from known

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
