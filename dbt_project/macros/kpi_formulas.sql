{#- The KPI formulas, once: the marts and the headline figures (analyses/headline_kpis.sql)
    compute them from counts, so a KPI re-aggregated over a week, a segment or the whole
    history is the same formula over summed counts. -#}

{#- % promoters − % detractors, −100 to 100. -#}
{% macro nps(promoters, detractors, responses) -%}
    round(100.0 * ({{ promoters }} - {{ detractors }}) / nullif({{ responses }}, 0), 2)
{%- endmacro %}

{#- Share of satisfied ratings (top two boxes of 1–5; Zendesk good over good + bad), in %. -#}
{% macro csat_pct(satisfied, ratings) -%}
    round(100.0 * {{ satisfied }} / nullif({{ ratings }}, 0), 2)
{%- endmacro %}

{#- Average effort on 1–7 (7 = very easy). -#}
{% macro avg_effort(effort_total, responses) -%}
    round({{ effort_total }}::numeric / nullif({{ responses }}, 0), 2)
{%- endmacro %}
