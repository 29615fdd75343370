-- The last day's backlog of every series (channel, priority, group) equals the tickets of that
-- series not solved (as the metrics say) by then; tickets are labelled as the mart labels them.
with last_day as (
    select distinct on (channel, priority, group_id) channel, priority, group_id, date, backlog_open
    from {{ ref('kpi_support_daily') }}
    order by channel, priority, group_id, date desc
),

unsolved as (
    select
        channel,
        coalesce(priority, 'none')                  as priority,
        coalesce(group_id, 0)                       as group_id,
        count(*) filter (where solved_at is null)   as unsolved
    from {{ ref('int_support_tickets_enriched') }}
    where not is_deleted
    group by 1, 2, 3
)

select *
from last_day
full outer join unsolved using (channel, priority, group_id)
where last_day.backlog_open is distinct from unsolved.unsolved
