-- One landed batch of raw.zendesk_users, as the columns its suite checks.
select
    record_key,
    unknown_fields,
    record ->> 'updated_at'                                             as updated_at,
    case when record ->> 'updated_at' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'updated_at')::timestamptz end                as updated_at_ts,
    nullif(trim(record ->> 'email'), '')                                as email
from {batch_rows}
