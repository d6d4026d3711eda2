-- The Kemendagri regencies of each edition's winning batch, typed and renamed; the columns all
-- levels share are in the macro kemendagri_region_staging, this level's own ones here.
{% call kemendagri_region_staging('regencies', 'regency', 'province') %}

        -- attributes
        trim(regexp_replace(source.name, '\s+', ' ', 'g')) as regency_name,
        lower(trim(source.type)) as regency_type,
        nullif(trim(source.luas_km2_big2024), '')::numeric as area_km2,
        nullif(trim(source.penduduk_laki), '')::bigint as population_male,
        nullif(trim(source.penduduk_perempuan), '')::bigint as population_female,
        nullif(trim(source.penduduk_total_dukcapil_2024s2), '')::bigint as population_total,
{% endcall %}
