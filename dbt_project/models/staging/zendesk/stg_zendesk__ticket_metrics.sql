{{ config(unique_key='ticket_metric_id', indexes=[{'columns': ['ticket_metric_id'], 'unique': true}, {'columns': ['ticket_id']}, {'columns': ['loaded_at']}]) }}

with

source as (

    select * from {{ source('zendesk', 'zendesk_ticket_metrics') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
    {{ incremental_since() }}

),

renamed as (

    select
        (record ->> 'id')::bigint                                               as ticket_metric_id,
        (record ->> 'ticket_id')::bigint                                        as ticket_id,
        (record ->> 'replies')::integer                                         as replies,
        (record ->> 'reopens')::integer                                         as reopens,
        -- Zendesk counts each duration twice: calendar minutes, and business minutes inside the
        -- ticket's schedule; SLA targets may be set in either.
        (record -> 'reply_time_in_minutes' ->> 'calendar')::integer             as first_reply_minutes,
        (record -> 'reply_time_in_minutes' ->> 'business')::integer             as first_reply_business_minutes,
        (record -> 'first_resolution_time_in_minutes' ->> 'calendar')::integer  as first_resolution_minutes,
        (record -> 'first_resolution_time_in_minutes' ->> 'business')::integer  as first_resolution_business_minutes,
        (record -> 'full_resolution_time_in_minutes' ->> 'calendar')::integer   as full_resolution_minutes,
        (record -> 'full_resolution_time_in_minutes' ->> 'business')::integer   as full_resolution_business_minutes,
        (record -> 'requester_wait_time_in_minutes' ->> 'calendar')::integer    as requester_wait_minutes,
        (record -> 'requester_wait_time_in_minutes' ->> 'business')::integer    as requester_wait_business_minutes,
        (record -> 'agent_wait_time_in_minutes' ->> 'calendar')::integer        as agent_wait_minutes,
        (record -> 'agent_wait_time_in_minutes' ->> 'business')::integer        as agent_wait_business_minutes,
        (record -> 'on_hold_time_in_minutes' ->> 'calendar')::integer           as on_hold_minutes,
        (record -> 'on_hold_time_in_minutes' ->> 'business')::integer           as on_hold_business_minutes,
        (record ->> 'solved_at')::timestamptz                                   as solved_at,
        (record ->> 'latest_comment_added_at')::timestamptz                     as latest_comment_added_at,
        (record ->> 'created_at')::timestamptz                                  as created_at,
        (record ->> 'updated_at')::timestamptz                                  as updated_at,
        _batch_id                                                               as batch_id,
        _loaded_at                                                              as loaded_at

    from source

)

select * from renamed
