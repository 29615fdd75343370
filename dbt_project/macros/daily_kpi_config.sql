{#- Daily KPI marts are replaced day by day: delete+insert on date (see on_touched_days). -#}
{% macro daily_kpi_config() -%}
    {{ config(materialized='incremental', unique_key='date', incremental_strategy='delete+insert') }}
{%- endmacro %}
