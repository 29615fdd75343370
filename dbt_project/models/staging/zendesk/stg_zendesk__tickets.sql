{{ config(unique_key='ticket_id', on_schema_change='append_new_columns', pre_hook="{{ drop_deleted('zendesk', 'tickets', 'ticket_id', 'bigint') }}", indexes=[{'columns': ['ticket_id'], 'unique': true}, {'columns': ['requester_id']}, {'columns': ['loaded_at']}]) }}
-- depends_on: {{ ref('stg_cxloop__deleted_records') }}

with

source as (

    select * from {{ source('zendesk', 'zendesk_tickets') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
    {{ incremental_since() }}

),

renamed as (

    select
        (record ->> 'id')::bigint                   as ticket_id,
        (record ->> 'requester_id')::bigint         as requester_id,
        (record ->> 'organization_id')::bigint      as organization_id,
        (record ->> 'assignee_id')::bigint          as assignee_id,
        (record ->> 'group_id')::bigint             as group_id,
        record -> 'via' ->> 'channel'               as source_channel,
        record ->> 'status'                         as status,
        record ->> 'type'                           as ticket_type,
        record ->> 'priority'                       as priority,
        record ->> 'subject'                        as subject,
        nullif(trim(record ->> 'description'), '')  as description,
        -- Set by whoever created the ticket through the API (cxloop's follow-ups: the alert's key).
        record ->> 'external_id'                    as external_id,
        (record ->> 'created_at')::timestamptz      as created_at,
        (record ->> 'updated_at')::timestamptz      as updated_at,
        _batch_id                                   as batch_id,
        _loaded_at                                  as loaded_at

    from source

)

select * from renamed
