-- One landed batch of raw.trustpilot_reviews, as the columns its suite checks.
select
    record_key,
    unknown_fields,
    record ->> 'createdAt'                                              as created_at,
    case when record ->> 'createdAt' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'createdAt')::timestamptz end                 as created_at_ts,
    jsonb_typeof(record -> 'stars')                                     as stars_type,
    case when jsonb_typeof(record -> 'stars') = 'number'
         then (record ->> 'stars')::numeric end                         as stars,
    record ->> 'language'                                               as language,
    nullif(trim(record ->> 'referralEmail'), '')                        as email
from {batch_rows}
