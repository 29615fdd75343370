-- One landed batch of raw.zendesk_satisfaction_ratings, as the columns its suite checks.
select
    record_key,
    unknown_fields,
    record ->> 'ticket_id'                                              as ticket_id,
    record ->> 'score'                                                  as score,
    record ->> 'updated_at'                                             as updated_at,
    case when record ->> 'updated_at' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'updated_at')::timestamptz end                as updated_at_ts
from {batch_rows}
