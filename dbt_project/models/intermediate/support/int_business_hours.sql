{#- The help desk's business hours as UTC intervals: one row per schedule and opening, from
    `business_calendar_from` to a year ahead, holidays left out.

    Zendesk computes business minutes for its own ticket metrics; this calendar is for what it
    does not compute, such as the follow-up SLA of an alert (macros/business_hours.sql). A
    schedule's intervals are minutes since Sunday 00:00 in its time zone, and never span a day
    (docs/api-protocols.md, "Business-hours schedules and holidays"). The zone is Zendesk's name
    for it, mapped to the IANA name the time zones list gives, so each day is placed in UTC with
    that day's offset (daylight saving time included). A holiday closes its schedule for every
    local date it spans.

    A table, rebuilt each night: a few thousand rows per schedule, and a schedule edit changes
    every future opening. -#}
{{ config(
    materialized='table',
    indexes=[{'columns': ['schedule_id', 'opens_at']}],
) }}

with

schedules as (

    select
        schedules.schedule_id,
        coalesce(zones.iana_time_zone, schedules.time_zone) as iana_time_zone
    from {{ ref('stg_zendesk__schedules') }} as schedules
    left join {{ ref('stg_zendesk__time_zones') }} as zones on zones.time_zone = schedules.time_zone

),

weekly as (

    select
        schedules.schedule_id,
        (spans.span ->> 'start_time')::integer  as start_minute,
        (spans.span ->> 'end_time')::integer    as end_minute
    from {{ ref('stg_zendesk__schedules') }} as schedules
    cross join lateral jsonb_array_elements(schedules.intervals) as spans (span)

),

intervals as (

    select
        schedule_id,
        start_minute / 1440                         as day_of_week,
        start_minute % 1440                         as opens_minute,
        end_minute - 1440 * (start_minute / 1440)   as closes_minute
    from weekly
    where end_minute > start_minute

),

days as (

    select day::date as day
    -- The date only decides how far ahead the calendar reaches; no opening depends on it.
    from generate_series(
        '{{ var("business_calendar_from", "2020-01-01") }}'::date, current_date + 366, interval '1 day'
    ) as day

),

openings as (

    select
        intervals.schedule_id,
        days.day,
        (days.day + make_interval(mins => intervals.opens_minute)) at time zone schedules.iana_time_zone  as opens_at,
        (days.day + make_interval(mins => intervals.closes_minute)) at time zone schedules.iana_time_zone as closes_at
    from intervals
    inner join schedules on schedules.schedule_id = intervals.schedule_id
    inner join days on extract(dow from days.day) = intervals.day_of_week

)

select
    openings.schedule_id,
    openings.day,
    openings.opens_at,
    openings.closes_at
from openings
where not exists (
    select from {{ ref('stg_zendesk__schedule_holidays') }} as holidays
    where holidays.schedule_id = openings.schedule_id
        and openings.day between holidays.start_date and holidays.end_date
)
