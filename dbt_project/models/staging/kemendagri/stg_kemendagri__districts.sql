-- The Kemendagri districts of each edition's winning batch, typed and renamed; the columns all
-- levels share are in the macro kemendagri_region_staging, this level's own ones here.
{% call kemendagri_region_staging('districts', 'district', 'regency') %}
        left(regexp_replace(source.code_10, '[^0-9]', '', 'g'), 2) as province_code,

        -- attributes
        trim(regexp_replace(source.name, '\s+', ' ', 'g')) as district_name,
{% endcall %}
