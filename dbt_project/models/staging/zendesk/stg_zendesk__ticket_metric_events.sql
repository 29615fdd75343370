{{ config(unique_key='metric_event_id', indexes=[{'columns': ['metric_event_id'], 'unique': true}, {'columns': ['ticket_id']}, {'columns': ['loaded_at']}]) }}

with

source as (

    select * from {{ source('zendesk', 'zendesk_ticket_metric_events') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
    {{ incremental_since() }}

),

renamed as (

    select
        (record ->> 'id')::bigint                                   as metric_event_id,
        (record ->> 'ticket_id')::bigint                            as ticket_id,
        record ->> 'metric'                                         as metric,
        (record ->> 'instance_id')::integer                         as instance_id,
        record ->> 'type'                                           as event_type,
        (record ->> 'time')::timestamptz                            as occurred_at,
        -- Zendesk's advice: an event marked deleted can be ignored.
        coalesce((record ->> 'deleted')::boolean, false)            as is_deleted,
        -- apply_sla: the target the ticket's policy set for this metric.
        (record -> 'sla' -> 'policy' ->> 'id')::bigint              as sla_policy_id,
        (record -> 'sla' ->> 'target')::integer                     as sla_target_minutes,
        (record -> 'sla' ->> 'business_hours')::boolean             as is_sla_in_business_hours,
        -- update_status: the minutes the metric ran, on fulfilment.
        (record -> 'status' ->> 'calendar')::integer                as status_minutes,
        (record -> 'status' ->> 'business')::integer                as status_business_minutes,
        _batch_id                                                   as batch_id,
        _loaded_at                                                  as loaded_at

    from source

)

select * from renamed
