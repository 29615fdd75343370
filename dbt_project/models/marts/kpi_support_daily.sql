with

tickets as (
    select * from {{ ref('int_support_tickets_enriched') }}
),

created as (

    select
        (created_at at time zone 'UTC')::date                                   as date,
        channel,
        count(*)                                                                as tickets_created,
        percentile_cont(0.5) within group (order by first_reply_minutes)        as median_first_reply_minutes
    from tickets
    group by 1, 2

),

solved as (

    select
        (solved_at at time zone 'UTC')::date                                    as date,
        channel,
        count(*)                                                                as tickets_solved,
        percentile_cont(0.5) within group (order by full_resolution_minutes)    as median_full_resolution_minutes,
        count(*) filter (where reopens > 0)                                     as reopened
    from tickets
    where solved_at is not null
    group by 1, 2

),

-- Every day from a channel's first ticket to the last activity, so the backlog has no gaps.
days as (

    select channels.channel, day::date as date
    from (
        select channel, min(date) as first_day
        from created
        group by channel
    ) as channels
    cross join lateral generate_series(
        channels.first_day,
        (select max(date) from (select date from created union all select date from solved) as active),
        interval '1 day'
    ) as day

),

daily as (

    select
        days.date,
        days.channel,
        coalesce(created.tickets_created, 0)    as tickets_created,
        coalesce(solved.tickets_solved, 0)      as tickets_solved,
        created.median_first_reply_minutes,
        solved.median_full_resolution_minutes,
        coalesce(solved.reopened, 0)            as reopened
    from days
    left join created using (date, channel)
    left join solved using (date, channel)

)

select
    date,
    channel,
    tickets_created::integer                                    as tickets_created,
    tickets_solved::integer                                     as tickets_solved,
    -- Open at the end of the day: created so far minus solved so far.
    (sum(tickets_created) over running - sum(tickets_solved) over running)::integer as backlog_open,
    round(median_first_reply_minutes::numeric, 1)::numeric(10, 1)     as median_first_reply_minutes,
    round(median_full_resolution_minutes::numeric, 1)::numeric(10, 1) as median_full_resolution_minutes,
    reopened::integer                                           as reopened
from daily
window running as (partition by channel order by date rows between unbounded preceding and current row)
