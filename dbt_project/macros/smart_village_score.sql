{#
    The 0-1 score of one Smart Village indicator value under its catalogue rule
    (ref_indicator_catalogue.scoring_rule). The rule kinds are a closed set; a rule the
    catalogue names but this macro does not know scores null, and a data test on
    int_smart_village__indicator_scores fails on it rather than letting it pass as missing.

    idm_score      an IDM indicator score 0-5, divided by 5
    yes_no         1 for yes (1), 0 for no (0)
    positive       1 when the value is above 0 (an amount, a count), else 0
    ratio_capped   value / parameter, capped to 0-1 (parameter = the target, e.g. 1 or 12)
    share_at_most  1 while the share is at most the parameter, then falling linearly to 0
                   at a share of 1
#}
{% macro smart_village_score(rule, value, parameter) -%}
    case {{ rule }}
        when 'idm_score' then least(greatest({{ value }} / 5.0, 0), 1)
        when 'yes_no' then
            case when {{ value }} = 1 then 1.0 when {{ value }} = 0 then 0.0 end
        when 'positive' then case when {{ value }} > 0 then 1.0 else 0.0 end
        when 'ratio_capped' then
            least(greatest({{ value }} / nullif({{ parameter }}, 0), 0), 1)
        when 'share_at_most' then
            case
                when {{ value }} <= {{ parameter }} then 1.0
                else greatest((1 - {{ value }}) / nullif(1 - {{ parameter }}, 0), 0)
            end
    end
{%- endmacro %}
