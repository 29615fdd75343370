{{ config(unique_key='rating_id', indexes=[{'columns': ['rating_id'], 'unique': true}, {'columns': ['ticket_id']}, {'columns': ['requester_id']}, {'columns': ['loaded_at']}]) }}

with

source as (

    select * from {{ source('zendesk', 'zendesk_satisfaction_ratings') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
    {{ incremental_since() }}

),

renamed as (

    select
        (record ->> 'id')::bigint                   as rating_id,
        (record ->> 'ticket_id')::bigint            as ticket_id,
        (record ->> 'requester_id')::bigint         as requester_id,
        record ->> 'score'                          as score,
        nullif(trim(record ->> 'comment'), '')      as comment,
        record ->> 'reason'                         as reason,
        (record ->> 'created_at')::timestamptz      as created_at,
        (record ->> 'updated_at')::timestamptz      as updated_at,
        _batch_id                                   as batch_id,
        _loaded_at                                  as loaded_at

    from source

)

select * from renamed
