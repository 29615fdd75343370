{#- The key of a verbatim's analysis: the same expression enrichment/analyse.py (PENDING) uses. -#}
{% macro verbatim_hash(column) -%}
    md5({{ column }})
{%- endmacro %}
