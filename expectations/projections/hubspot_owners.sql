-- One landed batch of raw.hubspot_owners, as the columns its suite checks.
select
    record_key,
    unknown_fields,
    record ->> 'updatedAt'                                              as updated_at,
    case when record ->> 'updatedAt' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'updatedAt')::timestamptz end                 as updated_at_ts,
    record ->> 'email'                                                  as email
from {batch_rows}
