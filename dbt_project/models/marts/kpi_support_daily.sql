{#- Incremental: the counts and medians are re-aggregated only for the days a changed ticket
    touches (the day it was created, solved, or solved before it reopened); the other days'
    counts are kept as built. The backlog is a running total, so a change on one day moves every
    later day's backlog: it is recomputed over the whole (small) mart from the daily counts. -#}
{{ daily_kpi_config() }}

with

tickets as (
    select * from {{ ref('int_support_tickets_enriched') }}
    where not is_deleted
),

{% if is_incremental() %}

-- A deleted ticket too: the days it was created and solved on lose it.
changed as (
    select created_at, solved_at, previous_solved_at
    from {{ ref('int_support_tickets_enriched') }}
    where {{ changed_since_last_build() }}
),

touched_days as (
    select (created_at at time zone 'UTC')::date as day from changed
    union
    select (solved_at at time zone 'UTC')::date from changed where solved_at is not null
    union
    select (previous_solved_at at time zone 'UTC')::date from changed where previous_solved_at is not null
),

{% endif %}

created as (

    select
        (tickets.created_at at time zone 'UTC')::date                               as date,
        tickets.channel,
        count(*)                                                                    as tickets_created,
        percentile_cont(0.5) within group (order by tickets.first_reply_minutes)    as median_first_reply_minutes
    from tickets
    {% if is_incremental() %}
    inner join touched_days
        on tickets.created_at >= touched_days.day::timestamp at time zone 'UTC'
        and tickets.created_at < (touched_days.day + 1)::timestamp at time zone 'UTC'
    {% endif %}
    group by 1, 2

),

solved as (

    select
        (tickets.solved_at at time zone 'UTC')::date                                  as date,
        tickets.channel,
        count(*)                                                                      as tickets_solved,
        percentile_cont(0.5) within group (order by tickets.full_resolution_minutes)  as median_full_resolution_minutes,
        count(*) filter (where tickets.reopens > 0)                                   as reopened
    from tickets
    {% if is_incremental() %}
    inner join touched_days
        on tickets.solved_at >= touched_days.day::timestamp at time zone 'UTC'
        and tickets.solved_at < (touched_days.day + 1)::timestamp at time zone 'UTC'
    {% endif %}
    where tickets.solved_at is not null
    group by 1, 2

),

counts as (

    select
        date,
        channel,
        coalesce(created.tickets_created, 0)    as tickets_created,
        coalesce(solved.tickets_solved, 0)      as tickets_solved,
        created.median_first_reply_minutes,
        solved.median_full_resolution_minutes,
        coalesce(solved.reopened, 0)            as reopened
    from created
    full outer join solved using (date, channel)

    {% if is_incremental() %}
    union all

    select
        date, channel, tickets_created, tickets_solved, median_first_reply_minutes,
        median_full_resolution_minutes, reopened
    from {{ this }}
    where date not in (select day from touched_days)
    {% endif %}

),

-- Every day from a channel's first ticket to the last activity, so the backlog has no gaps.
days as (

    select channels.channel, day::date as date
    from (
        select channel, min(date) as first_day
        from counts
        where tickets_created > 0
        group by channel
    ) as channels
    cross join lateral generate_series(
        channels.first_day,
        (select max(date) from counts where tickets_created > 0 or tickets_solved > 0),
        interval '1 day'
    ) as day

),

daily as (

    select
        days.date,
        days.channel,
        coalesce(counts.tickets_created, 0)     as tickets_created,
        coalesce(counts.tickets_solved, 0)      as tickets_solved,
        counts.median_first_reply_minutes,
        counts.median_full_resolution_minutes,
        coalesce(counts.reopened, 0)            as reopened
    from days
    left join counts using (date, channel)

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
