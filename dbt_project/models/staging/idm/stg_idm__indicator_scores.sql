-- The 50 IDM indicator scores of each desa and year, typed, from the winning batch of each
-- village-year. The API numbers indicators within their dimension (IKS 1-35, IKE 1-12,
-- IKL 1-3); the gate has checked that each is present once with a score from 0 to 5.

{% call idm_staging('idm_indicators') %}
        source.dimensi as dimension,
        cast(trim(source.no) as integer) as indicator_no,
        trim(regexp_replace(source.indikator, '\s+', ' ', 'g')) as indicator_name,
        cast(trim(source.skor) as numeric) as score,
        nullif(trim(source.keterangan), '') as keterangan,

        -- the API's recommendation: an activity ('-': none needed), the IDM it would add,
        -- and who can carry it out
        nullif(trim(source.kegiatan), '-') as recommended_activity,
        {{ idm_number('source.nilai') }} as activity_value,
        nullif(trim(source.pusat), '') as actor_central,
        nullif(trim(source.prov), '') as actor_province,
        nullif(trim(source.kab), '') as actor_regency,
        nullif(trim(source.desa), '') as actor_village,
        nullif(trim(source.csr), '') as actor_csr,
        nullif(trim(source.lainnya), '') as actor_other,
{% endcall %}
