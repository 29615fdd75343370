{#- The NPS category of an answer on the 0–10 scale, from its sentiment: the cut-offs live in
    one place, the score_scales seed (0-10: promoters from 9, detractors up to 6), which
    fct_touchpoints turns into `sentiment`; editing the seed moves every NPS figure with it. -#}
{% macro nps_category(sentiment) -%}
    case {{ sentiment }} when 'positive' then 'promoter' when 'negative' then 'detractor' else 'passive' end
{%- endmacro %}
