-- One landed batch of raw.zendesk_schedule_holidays: each holiday of a schedule, its inclusive
-- dates in order, and the change time the connector stamped.
select
    record_key,
    unknown_fields,
    record ->> 'schedule_id'                                            as schedule_id,
    record ->> 'start_date'                                             as start_date,
    record ->> 'end_date'                                               as end_date,
    case when record ->> 'start_date' ~ '^\d{4}-\d{2}-\d{2}$'
         then (record ->> 'start_date')::date end                       as start_date_d,
    case when record ->> 'end_date' ~ '^\d{4}-\d{2}-\d{2}$'
         then (record ->> 'end_date')::date end                         as end_date_d,
    record ->> '_updated_at'                                            as _updated_at,
    case when record ->> '_updated_at' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> '_updated_at')::timestamptz end               as updated_at_ts
from {batch_rows}
