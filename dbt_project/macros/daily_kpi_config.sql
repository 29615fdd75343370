{#- Daily KPI marts are replaced day by day: delete+insert on date (see on_touched_days). A mart
    of touchpoint `types` first drops the days that lost one to a deletion at the source: a day
    whose every touchpoint went has no row to replace it. -#}
{% macro daily_kpi_config(types=none) -%}
    {%- set pre_hook = "{{ drop_days_that_lost_touchpoints(\"" ~ types ~ "\") }}" if types else [] -%}
    {{ config(materialized='incremental', unique_key='date', incremental_strategy='delete+insert', pre_hook=pre_hook) }}
    {%- if types %}
-- depends_on: {{ ref('int_touchpoints_unioned') }}
    {%- endif %}
{%- endmacro %}

{% macro drop_days_that_lost_touchpoints(types) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where date in (
        select (occurred_at at time zone 'UTC')::date
        from ({{ touchpoints_deleted_since_last_build('occurred_at, touchpoint_type') }}) as deleted
        where touchpoint_type in ({{ types }})
    )
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
