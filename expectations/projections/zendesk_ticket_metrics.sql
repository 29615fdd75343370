-- One landed batch of raw.zendesk_ticket_metrics: times must be ordered (solved after created)
-- and durations non-negative.
select
    record_key,
    unknown_fields,
    record ->> 'ticket_id'                                              as ticket_id,
    record ->> 'updated_at'                                             as updated_at,
    case when record ->> 'created_at' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'created_at')::timestamptz end                as created_at_ts,
    case when record ->> 'solved_at' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'solved_at')::timestamptz end                 as solved_at_ts,
    case when record ->> 'updated_at' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'updated_at')::timestamptz end                as updated_at_ts,
    case when record -> 'reply_time_in_minutes' ->> 'calendar' ~ '^-?\d+$'
         then (record -> 'reply_time_in_minutes' ->> 'calendar')::numeric end as reply_minutes,
    case when record -> 'full_resolution_time_in_minutes' ->> 'calendar' ~ '^-?\d+$'
         then (record -> 'full_resolution_time_in_minutes' ->> 'calendar')::numeric end as resolution_minutes
from {batch_rows}
