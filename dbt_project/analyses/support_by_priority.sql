-- Support by priority over all tickets (fct_tickets): volume, median first reply in calendar and
-- business minutes, the share of first replies and resolutions that missed their SLA (of the
-- tickets an SLA applied to), and the share of ratings that were good.
select
    coalesce(priority, 'none') as priority,
    count(*) as tickets,
    percentile_cont(0.5) within group (order by first_reply_minutes) as median_first_reply_minutes,
    percentile_cont(0.5) within group (order by first_reply_business_minutes) as median_first_reply_business_minutes,
    round(100.0 * count(*) filter (where is_first_reply_sla_breached)
          / nullif(count(*) filter (where is_first_reply_sla_breached is not null), 0), 1) as first_reply_breached_pct,
    round(100.0 * count(*) filter (where is_resolution_sla_breached)
          / nullif(count(*) filter (where is_resolution_sla_breached is not null), 0), 1) as resolution_breached_pct,
    round(100.0 * count(*) filter (where csat_rating = 'good') / nullif(count(csat_rating), 0), 1) as csat_good_pct
from {{ ref('fct_tickets') }}
group by 1
order by array_position(array['urgent', 'high', 'normal', 'low', 'none'], coalesce(priority, 'none'))
