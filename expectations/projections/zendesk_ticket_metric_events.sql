-- One landed batch of raw.zendesk_ticket_metric_events: each event on a ticket, at a time, of a
-- metric and a type Zendesk documents.
select
    record_key,
    unknown_fields,
    record ->> 'ticket_id'                                              as ticket_id,
    record ->> 'metric'                                                 as metric,
    record ->> 'type'                                                   as type,
    record ->> 'time'                                                   as time,
    case when record ->> 'time' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'time')::timestamptz end                      as time_ts
from {batch_rows}
