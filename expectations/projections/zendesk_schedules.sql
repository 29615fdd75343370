-- One landed batch of raw.zendesk_schedules: each schedule in a zone, its intervals an array, each
-- interval a span of whole minutes inside the week (Sunday 00:00 is 0, the next Sunday 10080).
select
    record_key,
    unknown_fields,
    record ->> 'time_zone'                                              as time_zone,
    jsonb_typeof(record -> 'intervals')                                 as intervals_type,
    (
        select count(*)
        from jsonb_array_elements(
            case when jsonb_typeof(record -> 'intervals') = 'array' then record -> 'intervals' else '[]' end
        ) as spans (span)
        where not coalesce(
            case
                when jsonb_typeof(spans.span -> 'start_time') = 'number'
                    and jsonb_typeof(spans.span -> 'end_time') = 'number'
                    then (spans.span ->> 'start_time')::numeric >= 0
                    and (spans.span ->> 'end_time')::numeric <= 10080
                    and (spans.span ->> 'start_time')::numeric < (spans.span ->> 'end_time')::numeric
            end, false
        )
    )                                                                   as intervals_outside_the_week,
    record ->> 'updated_at'                                             as updated_at,
    case when record ->> 'updated_at' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'updated_at')::timestamptz end                as updated_at_ts,
    case when record ->> 'created_at' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'created_at')::timestamptz end                as created_at_ts
from {batch_rows}
