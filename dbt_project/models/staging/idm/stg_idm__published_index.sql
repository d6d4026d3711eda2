-- The IDM as Kemendesa published it for each desa and year: the IKS, IKE, IKL and IDM
-- index rows, the status, and the target of the next class. Published values are kept as
-- published, even where they do not follow from the indicator scores (the gate warns).

{% call idm_staging('idm_summaries', row_number=false) %}
        nullif(trim(source.nama_desa), '') as village_name,

        -- published indices
        cast(trim(source.iks) as numeric) as iks,
        cast(trim(source.ike) as numeric) as ike,
        cast(trim(source.ikl) as numeric) as ikl,
        cast(trim(source.idm) as numeric) as idm,
        initcap(lower(trim(source.status_idm))) as status,

        -- target of the next class
        initcap(lower(trim(source.target_status))) as target_status,
        {{ idm_number('source.skor_minimal') }} as target_min_idm,
        {{ idm_number('source.penambahan') }} as idm_gap_to_target,
{% endcall %}
