-- One landed batch of raw.zendesk_ticket_comments: each comment on a ticket, by an author, at a
-- time, public or an internal note, with a text body.
select
    record_key,
    unknown_fields,
    record ->> 'ticket_id'                                              as ticket_id,
    record ->> 'author_id'                                              as author_id,
    record ->> 'event_type'                                             as event_type,
    jsonb_typeof(record -> 'public')                                    as public_type,
    jsonb_typeof(record -> 'body')                                      as body_type,
    record ->> 'created_at'                                             as created_at,
    case when record ->> 'created_at' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'created_at')::timestamptz end                as created_at_ts
from {batch_rows}
