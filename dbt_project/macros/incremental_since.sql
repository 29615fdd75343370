{#- The filter of an incremental staging model's source CTE: raw rows landed (or re-landed by a
    newer version, or released by the quality gate, which re-stamps them) since the model's last
    successful build (macros/build_watermarks.sql). -#}
{% macro incremental_since(loaded_at='_loaded_at') -%}
    {%- if is_incremental() %}
    and {{ changed_since_last_build(loaded_at) }}
    {%- endif %}
{%- endmacro %}

{#- For a daily KPI mart: keep only the rows on days that have new, changed or deleted touchpoints
    of `types` since the model's last build; the model is then replaced day by day (delete+insert
    on date), so each night re-aggregates the days it touched and no others. -#}
{% macro on_touched_days(types, relation='touchpoints') -%}
    {%- if is_incremental() %}
    inner join (
        select distinct (occurred_at at time zone 'UTC')::date as day
        from {{ ref('fct_touchpoints') }}
        where touchpoint_type in ({{ types }}) and {{ changed_since_last_build() }}
        union
        -- A day that lost a touchpoint its source deleted.
        select distinct (occurred_at at time zone 'UTC')::date
        from ({{ touchpoints_deleted_since_last_build('occurred_at, touchpoint_type') }}) as deleted
        where touchpoint_type in ({{ types }})
    ) as touched_days
        on {{ relation }}.occurred_at >= touched_days.day::timestamp at time zone 'UTC'
        and {{ relation }}.occurred_at < (touched_days.day + 1)::timestamp at time zone 'UTC'
    {%- endif %}
{%- endmacro %}
