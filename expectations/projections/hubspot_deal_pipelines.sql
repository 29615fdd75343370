-- One landed batch of raw.hubspot_deal_pipelines: a pipeline per row, its stages unnested into
-- counts, so one stage whose metadata cannot say won or lost fails the pipeline's row.
select
    record_key,
    unknown_fields,
    record ->> 'updatedAt'                                              as updated_at,
    case when record ->> 'updatedAt' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
         then (record ->> 'updatedAt')::timestamptz end                 as updated_at_ts,
    case when jsonb_typeof(record -> 'stages') = 'array'
         then jsonb_array_length(record -> 'stages') end                as stages,
    -- Closed stages whose probability is neither 1 (won) nor 0 (lost), or not a number at all.
    (select count(*) from jsonb_array_elements(
        case when jsonb_typeof(record -> 'stages') = 'array' then record -> 'stages' else '[]' end) as stage
     where stage -> 'metadata' ->> 'isClosed' = 'true'
       and coalesce(stage -> 'metadata' ->> 'probability', '') not in ('0', '0.0', '1', '1.0'))
                                                                        as closed_stages_without_outcome
from {batch_rows}
