{#- One row per SLA a ticket's metric ran under: the help desk's ticket metric events, read the
    way Zendesk documents them (docs/api-protocols.md, "Ticket metric events").

    A policy's metric maps to an event metric and instance: `first_reply_time` is `reply_time`
    instance 1, `next_reply_time` a later `reply_time` instance, `total_resolution_time`
    `resolution_time`. The target is the latest `apply_sla` of the instance (a priority change
    re-applies it). The instance is fulfilled when its latest `fulfill` comes after its latest
    `activate` (a reopened ticket's resolution clock runs again). Achieved minutes come from the
    `update_status` Zendesk sends on fulfilment, in calendar and business minutes; the SLA counts
    whichever its policy names.

    Breached: a fulfilled instance is breached when it took longer than its target; one still
    running is breached once Zendesk has sent a `breach` event for it (events marked deleted, and
    a breach dated after the fulfilment, do not count).

    Incremental per ticket (delete+insert on ticket_id): a night recomputes every SLA of the
    tickets that received metric events, and no other. -#}
{{ config(
    incremental_strategy='delete+insert',
    unique_key='ticket_id',
    indexes=[
        {'columns': ['ticket_id']},
        {'columns': ['loaded_at']},
    ]
) }}

with

events as (

    select * from {{ ref('stg_zendesk__ticket_metric_events') }}
    where not is_deleted
    {% if is_incremental() %}
    and ticket_id in (
        select ticket_id from {{ ref('stg_zendesk__ticket_metric_events') }} where {{ changed_since_last_build() }}
    )
    {% endif %}

),

instances as (

    select
        ticket_id,
        metric,
        instance_id,
        max(occurred_at) filter (where event_type = 'activate')         as activated_at,
        max(occurred_at) filter (where event_type = 'fulfill')          as last_fulfilled_at,
        min(occurred_at) filter (where event_type = 'breach')           as breach_at,
        max(loaded_at)                                                  as loaded_at
    from events
    group by ticket_id, metric, instance_id

),

applied as (

    select distinct on (ticket_id, metric, instance_id)
        ticket_id,
        metric,
        instance_id,
        sla_policy_id,
        sla_target_minutes,
        is_sla_in_business_hours,
        occurred_at as applied_at
    from events
    where event_type = 'apply_sla'
    order by ticket_id, metric, instance_id, occurred_at desc, metric_event_id desc

),

achieved as (

    select distinct on (ticket_id, metric, instance_id)
        ticket_id,
        metric,
        instance_id,
        status_minutes,
        status_business_minutes
    from events
    where event_type = 'update_status'
    order by ticket_id, metric, instance_id, occurred_at desc, metric_event_id desc

),

slas as (

    select
        applied.ticket_id,
        case
            when applied.metric = 'reply_time' and applied.instance_id = 1 then 'first_reply_time'
            when applied.metric = 'reply_time' then 'next_reply_time'
            when applied.metric = 'resolution_time' then 'total_resolution_time'
            else applied.metric
        end                                                             as sla_metric,
        applied.metric                                                  as event_metric,
        applied.instance_id,
        applied.sla_policy_id,
        applied.sla_target_minutes,
        applied.is_sla_in_business_hours,
        applied.applied_at,
        case
            when instances.last_fulfilled_at >= coalesce(instances.activated_at, instances.last_fulfilled_at)
                then instances.last_fulfilled_at
        end                                                             as fulfilled_at,
        instances.breach_at,
        achieved.status_minutes                                         as achieved_minutes,
        achieved.status_business_minutes                                as achieved_business_minutes,
        instances.loaded_at
    from applied
    inner join instances using (ticket_id, metric, instance_id)
    left join achieved using (ticket_id, metric, instance_id)

)

select
    ticket_id,
    sla_metric,
    event_metric,
    instance_id,
    sla_policy_id,
    sla_target_minutes,
    is_sla_in_business_hours,
    applied_at,
    fulfilled_at,
    fulfilled_at is not null                                            as is_fulfilled,
    achieved_minutes,
    achieved_business_minutes,
    case
        when fulfilled_at is not null and is_sla_in_business_hours then achieved_business_minutes
        when fulfilled_at is not null then achieved_minutes
    end                                                                 as achieved_sla_minutes,
    coalesce(
        case
            when fulfilled_at is not null and is_sla_in_business_hours
                then achieved_business_minutes > sla_target_minutes
            when fulfilled_at is not null then achieved_minutes > sla_target_minutes
        end,
        breach_at is not null and (fulfilled_at is null or breach_at <= fulfilled_at)
    )                                                                   as is_breached,
    loaded_at
from slas
