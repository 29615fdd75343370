-- One landed batch of raw.hubspot_deals. HubSpot sends numbers as strings: amount is checked
-- as text first, so a non-numeric amount fails an expectation instead of the query.
select
    record_key,
    unknown_fields,
    record ->> 'updatedAt'                                              as updated_at,
    case when record ->> 'updatedAt' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'updatedAt')::timestamptz end                 as updated_at_ts,
    record -> 'properties' ->> 'amount'                                 as amount_text,
    case when record -> 'properties' ->> 'amount' ~ '^-?\d+(\.\d+)?$'
         then (record -> 'properties' ->> 'amount')::numeric end        as amount,
    record -> 'properties' ->> 'dealstage'                              as dealstage
from {batch_rows}
