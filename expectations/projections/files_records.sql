-- One landed batch of raw.files_records. Columns differ by dataset: each check applies where
-- its column is present (GX map expectations ignore nulls).
select
    record_key,
    unknown_fields,
    record ->> '_dataset'                                               as dataset,
    record ->> '_file_sha256'                                           as file_sha256,
    case when record ->> 'score' ~ '^-?\d+(\.\d+)?$' then (record ->> 'score')::numeric end as audit_score,
    case when record ->> 'nps' ~ '^-?\d+$' then (record ->> 'nps')::numeric end              as nps,
    nullif(trim(record ->> 'email'), '')                                as email
from {batch_rows}
