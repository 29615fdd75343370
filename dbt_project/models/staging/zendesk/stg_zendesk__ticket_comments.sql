{{ config(unique_key='comment_id', pre_hook="{{ drop_deleted('zendesk', 'tickets', 'ticket_id', 'bigint') }}", indexes=[{'columns': ['comment_id'], 'unique': true}, {'columns': ['ticket_id']}, {'columns': ['author_id']}, {'columns': ['loaded_at']}]) }}
-- depends_on: {{ ref('stg_cxloop__deleted_records') }}

with

source as (

    select * from {{ source('zendesk', 'zendesk_ticket_comments') }} as comments
    where {{ not_quarantined() }} and {{ not_deleted() }}
        -- A ticket deleted at the source takes its comments with it (Zendesk does not tombstone
        -- them): the pre-hook drops those of tickets deleted since the last build, and this never
        -- reads back one of a ticket the deletion ledger holds (landed after the deletion, or on a
        -- full refresh). A restored ticket's comments stay out.
        and not exists (
            select from {{ ref('stg_cxloop__deleted_records') }} as deletions
            where deletions.source = 'zendesk' and deletions.stream = 'tickets'
                and deletions.record_key = comments.record ->> 'ticket_id'
        )
    {{ incremental_since() }}

),

renamed as (

    select
        (record ->> 'id')::bigint                                   as comment_id,
        (record ->> 'ticket_id')::bigint                            as ticket_id,
        (record ->> 'author_id')::bigint                            as author_id,
        record ->> 'event_type'                                     as comment_type,
        -- The customer's words as written: plain_body (Zendesk's sanitised text) when served,
        -- else body; a blank one is none, and nothing else is trimmed.
        case
            when btrim(coalesce(record ->> 'plain_body', record ->> 'body')) <> ''
                then coalesce(record ->> 'plain_body', record ->> 'body')
        end                                                         as body,
        (record ->> 'public')::boolean                              as is_public,
        record -> 'via' ->> 'channel'                               as source_channel,
        (record ->> 'created_at')::timestamptz                      as created_at,
        (record ->> '_event_id')::bigint                            as ticket_event_id,
        to_timestamp((record ->> '_event_timestamp')::bigint)       as ticket_event_at,
        _batch_id                                                   as batch_id,
        _loaded_at                                                  as loaded_at

    from source

)

select * from renamed
