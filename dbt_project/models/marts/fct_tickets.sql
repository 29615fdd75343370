{#- One row per help-desk ticket, with the help desk's own timings in calendar and business minutes,
    its SLAs and its satisfaction rating: the table a support lead re-aggregates to any week, team
    or priority (medians cannot be re-aggregated from the daily KPI; they can from here).

    Business minutes are Zendesk's, counted inside the ticket's schedule. SLA columns come from
    int_ticket_slas: the first-reply and resolution SLA (target, achieved, breached) and the
    count of next-reply SLAs run and breached. CSAT is the ticket's latest good/bad rating.

    Incremental on ticket_id: a night rebuilds the tickets whose row, metrics, SLA events or
    rating changed, or whose requester identity resolution re-matched; a ticket deleted in
    Zendesk goes (pre-hook). -#}
{{ config(
    materialized='incremental',
    unique_key='ticket_id',
    pre_hook="{{ drop_deleted('zendesk', 'tickets', 'ticket_id', 'bigint') }}",
    indexes=[
        {'columns': ['ticket_id'], 'unique': true},
        {'columns': ['customer_id']},
        {'columns': ['created_at']},
        {'columns': ['solved_at']},
        {'columns': ['loaded_at']},
    ]
) }}
-- depends_on: {{ ref('stg_cxloop__deleted_records') }}
-- depends_on: {{ ref('int_customers_resolved') }}
-- depends_on: {{ ref('stg_zendesk__tickets') }}

with

tickets as (

    select * from {{ ref('int_support_tickets_enriched') }}
    where not is_deleted
    {% if is_incremental() %}
    and ticket_id in (
        select ticket_id from {{ ref('int_support_tickets_enriched') }} where {{ changed_since_last_build() }}
        union
        select ticket_id from {{ ref('int_ticket_slas') }} where {{ changed_since_last_build() }}
        union
        select ticket_id from {{ ref('stg_zendesk__satisfaction_ratings') }} where {{ changed_since_last_build() }}
        union
        {{ tickets_of_rematched_requesters() }}
    )
    {% endif %}

),

slas as (

    select
        ticket_id,
        max(sla_target_minutes) filter (where sla_metric = 'first_reply_time')          as first_reply_sla_minutes,
        bool_or(is_breached) filter (where sla_metric = 'first_reply_time')            as is_first_reply_sla_breached,
        max(sla_target_minutes) filter (where sla_metric = 'total_resolution_time')     as resolution_sla_minutes,
        bool_or(is_breached) filter (where sla_metric = 'total_resolution_time')       as is_resolution_sla_breached,
        count(*) filter (where sla_metric = 'next_reply_time')                          as next_reply_slas,
        count(*) filter (where sla_metric = 'next_reply_time' and is_breached)          as next_reply_sla_breaches,
        bool_or(is_sla_in_business_hours)                                               as is_sla_in_business_hours,
        max(loaded_at)                                                                  as loaded_at
    from {{ ref('int_ticket_slas') }}
    where ticket_id in (select ticket_id from tickets)
    group by ticket_id

),

ratings as (

    select distinct on (ticket_id)
        ticket_id,
        score,
        loaded_at
    from {{ ref('stg_zendesk__satisfaction_ratings') }}
    where score in ('good', 'bad') and ticket_id in (select ticket_id from tickets)
    order by ticket_id, created_at desc, rating_id desc

)

select
    tickets.ticket_id::bigint                                                   as ticket_id,
    tickets.customer_id::text                                                   as customer_id,
    tickets.channel::text                                                       as channel,
    tickets.priority::text                                                      as priority,
    tickets.assignee_id::bigint                                                 as assignee_id,
    tickets.group_id::bigint                                                    as group_id,
    tickets.status::text                                                        as status,
    tickets.is_open::boolean                                                    as is_open,
    tickets.created_at::timestamptz                                             as created_at,
    tickets.solved_at::timestamptz                                              as solved_at,
    tickets.replies::integer                                                    as replies,
    tickets.reopens::integer                                                    as reopens,
    tickets.first_reply_minutes::integer                                        as first_reply_minutes,
    tickets.first_reply_business_minutes::integer                               as first_reply_business_minutes,
    tickets.full_resolution_minutes::integer                                    as full_resolution_minutes,
    tickets.full_resolution_business_minutes::integer                           as full_resolution_business_minutes,
    slas.first_reply_sla_minutes::integer                                       as first_reply_sla_minutes,
    slas.is_first_reply_sla_breached::boolean                                   as is_first_reply_sla_breached,
    slas.resolution_sla_minutes::integer                                        as resolution_sla_minutes,
    slas.is_resolution_sla_breached::boolean                                    as is_resolution_sla_breached,
    coalesce(slas.next_reply_slas, 0)::integer                                  as next_reply_slas,
    coalesce(slas.next_reply_sla_breaches, 0)::integer                          as next_reply_sla_breaches,
    slas.is_sla_in_business_hours::boolean                                      as is_sla_in_business_hours,
    ratings.score::text                                                         as csat_rating,
    greatest(tickets.loaded_at, slas.loaded_at, ratings.loaded_at)::timestamptz as loaded_at
from tickets
left join slas on slas.ticket_id = tickets.ticket_id
left join ratings on ratings.ticket_id = tickets.ticket_id
