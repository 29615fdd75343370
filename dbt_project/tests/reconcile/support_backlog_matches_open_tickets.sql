-- The last day's backlog per channel equals the tickets not solved (as the metrics say) by then.
with last_day as (
    select distinct on (channel) channel, date, backlog_open
    from {{ ref('kpi_support_daily') }}
    order by channel, date desc
),

unsolved as (
    select channel, count(*) filter (where solved_at is null) as unsolved
    from {{ ref('int_support_tickets_enriched') }}
    where not is_deleted
    group by channel
)

select *
from last_day
full outer join unsolved using (channel)
where last_day.backlog_open is distinct from unsolved.unsolved
