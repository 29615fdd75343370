{#- Tickets with the help desk's own metrics and the requester's customer. -#}
with

tickets as (
    select * from {{ ref('stg_zendesk__tickets') }}
),

metrics as (
    select * from {{ ref('stg_zendesk__ticket_metrics') }}
),

customers as (
    select * from {{ ref('int_customers_resolved') }}
    where source = 'zendesk'
)

select
    tickets.ticket_id,
    customers.customer_id,
    tickets.status,
    tickets.status in ('new', 'open', 'pending', 'hold')   as is_open,
    {{ map_channel("'zendesk'", 'tickets.source_channel') }} as channel,
    tickets.created_at,
    metrics.solved_at,
    metrics.first_reply_minutes,
    metrics.full_resolution_minutes,
    coalesce(metrics.replies, 0)                            as replies,
    coalesce(metrics.reopens, 0)                            as reopens,
    metrics.latest_comment_added_at
from tickets
left join metrics on metrics.ticket_id = tickets.ticket_id
left join customers on customers.source_id = tickets.requester_id::text
