-- One landed batch of raw.hubspot_line_items. HubSpot sends numbers as strings: amount is
-- checked as text first, so a non-numeric amount fails an expectation instead of the query.
select
    record_key,
    unknown_fields,
    record ->> 'updatedAt'                                              as updated_at,
    case when record ->> 'updatedAt' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'updatedAt')::timestamptz end                 as updated_at_ts,
    record -> 'properties' ->> 'amount'                                 as amount_text,
    record -> 'associations' -> 'deals' -> 'results' -> 0 ->> 'id'      as deal_id
from {batch_rows}
