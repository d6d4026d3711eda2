-- Every indicator score names an indicator of the IDM catalogue (seed ref_idm_indicators).

select
    scores.village_code,
    scores.year,
    scores.dimension,
    scores.indicator_no
from {{ ref('stg_idm__indicator_scores') }} as scores
left join {{ ref('ref_idm_indicators') }} as catalogue
    on
        scores.dimension = catalogue.dimensi
        and scores.indicator_no = catalogue.no
where catalogue.no is null
