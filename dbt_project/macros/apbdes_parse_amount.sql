{#
    A rupiah amount from its text as received, or null when the text is no amount.
    Reads the shapes the APBDes landing accepts (lumbung.sources.apbdes.AMOUNT), in the same
    order: Indonesian grouping with an optional decimal comma (1.234.567,00), ungrouped digits
    with an optional decimal comma (1234567,5), or a plain decimal point (1234567.25).
    Exactly-three-digit groups after a point are thousands: '1.234' is 1234.
#}
{% macro apbdes_parse_amount(column) -%}
    case
        when btrim({{ column }}, E' \t\r\n')
            ~ '^-?([0-9]{1,3}(\.[0-9]{3})+(,[0-9]+)?|[0-9]+(,[0-9]+)?)$'
            then replace(replace(btrim({{ column }}, E' \t\r\n'), '.', ''), ',', '.')::numeric
        when btrim({{ column }}, E' \t\r\n') ~ '^-?[0-9]+\.[0-9]+$'
            then btrim({{ column }}, E' \t\r\n')::numeric
    end
{%- endmacro %}
