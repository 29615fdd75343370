{#- One row per day, channel, priority and group. The grain's columns are never null, so the
    grain stays testable and the daily series join on plain equality: an unset priority is
    'none', a ticket without a group is group 0 (Zendesk's group ids are positive).

    Incremental: the counts and medians are re-aggregated only for the days a changed ticket
    touches (the day it was created, solved, or solved before it reopened); the other days'
    counts are kept as built. Every series of a touched day is recomputed, so a ticket that moved
    to another priority or group leaves its old series on those days. The backlog is a running
    total, so a change on one day moves every later day's backlog: it is recomputed over the
    whole (small) mart from the daily counts. -#}
{{ daily_kpi_config() }}

with

tickets as (
    select
        created_at,
        solved_at,
        channel,
        coalesce(priority, 'none')  as priority,
        coalesce(group_id, 0)       as group_id,
        first_reply_minutes,
        first_reply_business_minutes,
        full_resolution_minutes,
        full_resolution_business_minutes,
        reopens
    from {{ ref('int_support_tickets_enriched') }}
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
        (tickets.created_at at time zone 'UTC')::date                                       as date,
        tickets.channel,
        tickets.priority,
        tickets.group_id,
        count(*)                                                                            as tickets_created,
        percentile_cont(0.5) within group (order by tickets.first_reply_minutes)            as median_first_reply_minutes,
        percentile_cont(0.5) within group (order by tickets.first_reply_business_minutes)
            as median_first_reply_business_minutes
    from tickets
    {% if is_incremental() %}
    inner join touched_days
        on tickets.created_at >= touched_days.day::timestamp at time zone 'UTC'
        and tickets.created_at < (touched_days.day + 1)::timestamp at time zone 'UTC'
    {% endif %}
    group by 1, 2, 3, 4

),

solved as (

    select
        (tickets.solved_at at time zone 'UTC')::date                                        as date,
        tickets.channel,
        tickets.priority,
        tickets.group_id,
        count(*)                                                                            as tickets_solved,
        percentile_cont(0.5) within group (order by tickets.full_resolution_minutes)
            as median_full_resolution_minutes,
        percentile_cont(0.5) within group (order by tickets.full_resolution_business_minutes)
            as median_full_resolution_business_minutes,
        count(*) filter (where tickets.reopens > 0)                                         as reopened
    from tickets
    {% if is_incremental() %}
    inner join touched_days
        on tickets.solved_at >= touched_days.day::timestamp at time zone 'UTC'
        and tickets.solved_at < (touched_days.day + 1)::timestamp at time zone 'UTC'
    {% endif %}
    where tickets.solved_at is not null
    group by 1, 2, 3, 4

),

counts as (

    select
        date,
        channel,
        priority,
        group_id,
        coalesce(created.tickets_created, 0)    as tickets_created,
        coalesce(solved.tickets_solved, 0)      as tickets_solved,
        created.median_first_reply_minutes,
        solved.median_full_resolution_minutes,
        created.median_first_reply_business_minutes,
        solved.median_full_resolution_business_minutes,
        coalesce(solved.reopened, 0)            as reopened
    from created
    full outer join solved using (date, channel, priority, group_id)

    {% if is_incremental() %}
    union all

    select
        date, channel, priority, group_id, tickets_created, tickets_solved, median_first_reply_minutes,
        median_full_resolution_minutes, median_first_reply_business_minutes,
        median_full_resolution_business_minutes, reopened
    from {{ this }}
    where date not in (select day from touched_days)
    {% endif %}

),

-- Every day from a series' first ticket to the last activity, so the backlog has no gaps.
days as (

    select series.channel, series.priority, series.group_id, day::date as date
    from (
        select channel, priority, group_id, min(date) as first_day
        from counts
        where tickets_created > 0
        group by channel, priority, group_id
    ) as series
    cross join lateral generate_series(
        series.first_day,
        (select max(date) from counts where tickets_created > 0 or tickets_solved > 0),
        interval '1 day'
    ) as day

),

daily as (

    select
        days.date,
        days.channel,
        days.priority,
        days.group_id,
        coalesce(counts.tickets_created, 0)     as tickets_created,
        coalesce(counts.tickets_solved, 0)      as tickets_solved,
        counts.median_first_reply_minutes,
        counts.median_full_resolution_minutes,
        counts.median_first_reply_business_minutes,
        counts.median_full_resolution_business_minutes,
        coalesce(counts.reopened, 0)            as reopened
    from days
    left join counts using (date, channel, priority, group_id)

)

select
    date,
    channel,
    priority::text                                              as priority,
    group_id::bigint                                            as group_id,
    tickets_created::integer                                    as tickets_created,
    tickets_solved::integer                                     as tickets_solved,
    -- Open at the end of the day: created so far minus solved so far.
    (sum(tickets_created) over running - sum(tickets_solved) over running)::integer as backlog_open,
    round(median_first_reply_minutes::numeric, 1)::numeric(10, 1)     as median_first_reply_minutes,
    round(median_full_resolution_minutes::numeric, 1)::numeric(10, 1) as median_full_resolution_minutes,
    round(median_first_reply_business_minutes::numeric, 1)::numeric(10, 1)
        as median_first_reply_business_minutes,
    round(median_full_resolution_business_minutes::numeric, 1)::numeric(10, 1)
        as median_full_resolution_business_minutes,
    reopened::integer                                           as reopened
from daily
window running as (
    partition by channel, priority, group_id
    order by date rows between unbounded preceding and current row
)
