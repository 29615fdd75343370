-- One landed batch of raw.zendesk_sla_policies: each policy titled, with its targets as an array,
-- and changed no earlier than it was made.
select
    record_key,
    unknown_fields,
    record ->> 'title'                                                  as title,
    jsonb_typeof(record -> 'policy_metrics')                            as policy_metrics_type,
    record ->> 'updated_at'                                             as updated_at,
    case when record ->> 'updated_at' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'updated_at')::timestamptz end                as updated_at_ts,
    case when record ->> 'created_at' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'created_at')::timestamptz end                as created_at_ts
from {batch_rows}
