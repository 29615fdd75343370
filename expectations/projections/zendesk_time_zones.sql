-- One landed batch of raw.zendesk_time_zones: each Zendesk zone name with the IANA zone it stands
-- for, and the change time the connector stamped.
select
    record_key,
    unknown_fields,
    record ->> 'iana_name'                                              as iana_name,
    record ->> '_updated_at'                                            as _updated_at,
    case when record ->> '_updated_at' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> '_updated_at')::timestamptz end               as updated_at_ts
from {batch_rows}
