{#
    The rupiah by which a BUMDes' reported contribution to PADes and the village's APBDes
    4.1.1 realisation may differ and still agree: the greater of an absolute floor
    (var bumdes_pades_tolerance_rupiah, default Rp 100.000, for rounding and bank charges)
    and a share of the larger amount (var bumdes_pades_tolerance_share, default 5 %).
#}
{% macro bumdes_pades_tolerance(reported, realised) -%}
    greatest(
        {{ var('bumdes_pades_tolerance_rupiah', 100000) }}::numeric,
        {{ var('bumdes_pades_tolerance_share', 0.05) }}::numeric
        * greatest(abs({{ reported }}), abs({{ realised }}))
    )
{%- endmacro %}
