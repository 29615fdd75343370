{#- The NPS bands on the 0–10 scale: promoters 9–10, passives 7–8, detractors 0–6. -#}
{% macro nps_category(score) -%}
    case when {{ score }} >= 9 then 'promoter' when {{ score }} >= 7 then 'passive' else 'detractor' end
{%- endmacro %}
