-- One landed batch of raw.typeform_responses, as the columns its suite checks.
-- Casts are guarded so that a malformed value fails an expectation instead of the query.
select
    record_key,
    unknown_fields,
    record ->> 'submitted_at'                                   as submitted_at,
    case when record ->> 'submitted_at' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'submitted_at')::timestamptz end      as submitted_at_ts,
    record ->> '_form_id'                                       as form_id,
    jsonb_typeof(record -> '_metrics' -> 'nps')                 as nps_type,
    case when jsonb_typeof(record -> '_metrics' -> 'nps') = 'number'
         then (record -> '_metrics' ->> 'nps')::numeric end     as nps,
    case when jsonb_typeof(record -> '_metrics' -> 'csat') = 'number'
         then (record -> '_metrics' ->> 'csat')::numeric end    as csat,
    case when jsonb_typeof(record -> '_metrics' -> 'ces') = 'number'
         then (record -> '_metrics' ->> 'ces')::numeric end     as ces,
    nullif(trim(record -> '_metrics' ->> 'email'), '')          as email
from {batch_rows}
