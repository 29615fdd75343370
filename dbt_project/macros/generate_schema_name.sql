{#- Build into the schema a folder names (staging, intermediate, marts) as is, not dbt's
    default "<target schema>_<custom schema>": BI tools and the docs name these schemas. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name is not none else target.schema }}
{%- endmacro %}
