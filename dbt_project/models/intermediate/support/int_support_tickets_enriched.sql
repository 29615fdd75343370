{#- Tickets with the help desk's own metrics and the requester's customer.

    Incremental on ticket_id: a night rebuilds the tickets whose row or metrics changed, or whose
    requester identity resolution re-matched. `previous_solved_at` keeps the solve time the
    ticket had before, so kpi_support_daily knows which day lost a solve when a ticket reopens.

    A ticket deleted in Zendesk (stg_cxloop__deleted_records) stays with `is_deleted` and the
    deletion's `loaded_at`, so kpi_support_daily re-counts the days it was created and solved
    on; every other reader takes `not is_deleted`. -#}
{{ config(
    unique_key='ticket_id',
    indexes=[
        {'columns': ['ticket_id'], 'unique': true},
        {'columns': ['customer_id']},
        {'columns': ['created_at']},
        {'columns': ['solved_at']},
        {'columns': ['loaded_at']},
    ]
) }}
-- depends_on: {{ ref('stg_cxloop__deleted_records') }}

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
),

{% if is_incremental() %}
-- From the relations, not the CTEs above: a CTE read twice is materialised whole (every ticket,
-- every night), and the filter below could no longer reach the tables' indexes.
changed as (
    select ticket_id from {{ ref('stg_zendesk__tickets') }} where {{ changed_since_last_build() }}
    union
    select ticket_id from {{ ref('stg_zendesk__ticket_metrics') }} where {{ changed_since_last_build() }}
    union
    {{ tickets_of_rematched_requesters() }}
),
{% endif %}

enriched as (

    select
        tickets.ticket_id,
        customers.customer_id,
        tickets.status,
        tickets.status in ('new', 'open', 'pending', 'hold')   as is_open,
        tickets.priority,
        tickets.assignee_id,
        tickets.group_id,
        {{ map_channel("'zendesk'", 'tickets.source_channel') }} as channel,
        tickets.created_at,
        metrics.solved_at,
        metrics.first_reply_minutes,
        metrics.first_reply_business_minutes,
        metrics.full_resolution_minutes,
        metrics.full_resolution_business_minutes,
        coalesce(metrics.replies, 0)                            as replies,
        coalesce(metrics.reopens, 0)                            as reopens,
        metrics.latest_comment_added_at,
        false                                                   as is_deleted,
        greatest(tickets.loaded_at, metrics.loaded_at)          as loaded_at
    from tickets
    left join metrics on metrics.ticket_id = tickets.ticket_id
    left join customers on customers.source_id = tickets.requester_id::text
    {% if is_incremental() %}
    where tickets.ticket_id in (select ticket_id from changed)
    {% endif %}

)

select
    enriched.*,
    {% if is_incremental() %}
    previous.solved_at as previous_solved_at
    {% else %}
    null::timestamptz as previous_solved_at
    {% endif %}
from enriched
{% if is_incremental() %}
left join {{ this }} as previous using (ticket_id)  -- noqa: AL05

union all

select
    previous.ticket_id, previous.customer_id, previous.status, previous.is_open, previous.priority,
    previous.assignee_id, previous.group_id, previous.channel, previous.created_at, previous.solved_at,
    previous.first_reply_minutes, previous.first_reply_business_minutes, previous.full_resolution_minutes,
    previous.full_resolution_business_minutes,
    previous.replies, previous.reopens, previous.latest_comment_added_at,
    true as is_deleted, deletions.loaded_at, previous.previous_solved_at
from {{ this }} as previous
inner join {{ ref('stg_cxloop__deleted_records') }} as deletions
    on deletions.source = 'zendesk' and deletions.stream = 'tickets' and deletions.record_key = previous.ticket_id::text
where {{ changed_since_last_build('deletions.loaded_at') }}
    and not previous.is_deleted
    and previous.ticket_id not in (select ticket_id from enriched)
{% endif %}
