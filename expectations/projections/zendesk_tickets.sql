-- One landed batch of raw.zendesk_tickets, as the columns its suite checks.
select
    record_key,
    unknown_fields,
    record ->> 'status'                                                 as status,
    record ->> 'updated_at'                                             as updated_at,
    case when record ->> 'created_at' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'created_at')::timestamptz end                as created_at_ts,
    case when record ->> 'updated_at' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'updated_at')::timestamptz end                as updated_at_ts,
    record -> 'satisfaction_rating' ->> 'score'                         as satisfaction_score
from {batch_rows}
