{#- Business minutes in a help-desk schedule's openings (int_business_hours) between two moments:
    null when either moment is null or the schedule has no openings at all (an unknown schedule is
    not a closed one). A scalar subquery, meant for the few rows an incremental night rebuilds; it
    reads the openings through their (schedule_id, opens_at) index. -#}
{% macro business_minutes_between(start_at, end_at, schedule_id) -%}
    case when {{ start_at }} is not null and {{ end_at }} is not null and exists (
        select from {{ ref('int_business_hours') }} as known where known.schedule_id = {{ schedule_id }}
    ) then coalesce((
        select sum(extract(epoch from least(hours.closes_at, {{ end_at }}) - greatest(hours.opens_at, {{ start_at }})) / 60)
        from {{ ref('int_business_hours') }} as hours
        where hours.schedule_id = {{ schedule_id }}
            and hours.opens_at < {{ end_at }} and hours.closes_at > {{ start_at }}
    ), 0) end
{%- endmacro %}
