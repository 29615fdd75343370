-- One landed batch of raw.hubspot_products, as the columns its suite checks.
select
    record_key,
    unknown_fields,
    record ->> 'updatedAt'                                              as updated_at,
    case when record ->> 'updatedAt' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'updatedAt')::timestamptz end                 as updated_at_ts,
    nullif(trim(record -> 'properties' ->> 'name'), '')                 as name,
    nullif(trim(record -> 'properties' ->> 'product_category'), '')     as category
from {batch_rows}
