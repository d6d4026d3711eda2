{#
    A number written the Indonesian way, from its text as received, or null when the text
    is no number. The same grammar as lumbung.sources.tabular.parse_id_number (the landing
    quarantines what it cannot read; tests/test_parsing_agreement.py holds both, and the
    gate's rules that render this macro, to the same cases): spaces ignored (Python's
    whitespace, no-break spaces included: the class is lumbung.sources.tabular.SQL_SPACE,
    Postgres' own \s being ASCII only), an optional "Rp"/"Rp." prefix and ",-" suffix, a
    leading minus or accounting parentheses for negatives, then thousands dots with an
    optional decimal comma (1.234.567,89), plain digits with an optional decimal comma
    (1234567,5), or, from spreadsheet cells, a decimal point (1234567.5). A group of
    exactly three digits after a dot is thousands: '1.234' is 1234.
#}
{% macro parse_id_number(column) -%}
    (
        with cleaned as (
            select
                regexp_replace(
                    regexp_replace(
                        regexp_replace(
                            regexp_replace(
                                {{ column }},
                                '[\s\u001c-\u001f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]',
                                '',
                                'g'
                            ),
                            '^(-?)[Rr][Pp]\.?', '\1'
                        ),
                        ',-$', ''
                    ),
                    '^\((.*)\)$', '-\1'
                ) as t
        )

        select
            case
                when t ~ '^-?[0-9]{1,3}(\.[0-9]{3})+(,[0-9]+)?$'
                    then replace(replace(t, '.', ''), ',', '.')::numeric
                when t ~ '^-?[0-9]+(,[0-9]+)?$' then replace(t, ',', '.')::numeric
                when t ~ '^-?[0-9]+\.[0-9]+$' then t::numeric
            end
        from cleaned
    )
{%- endmacro %}
