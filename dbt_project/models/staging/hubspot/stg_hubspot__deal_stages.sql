{#- One row per stage of every deal pipeline. A pipeline lands as one record holding all its
    stages, so a changed pipeline replaces all its rows (delete+insert on pipeline_id): a stage
    removed from it leaves no row behind, as on a full refresh. -#}
{{ config(
    unique_key='pipeline_id',
    incremental_strategy='delete+insert',
    indexes=[{'columns': ['pipeline_stage_id'], 'unique': true}, {'columns': ['loaded_at']}],
) }}

with

source as (

    select * from {{ source('hubspot', 'hubspot_deal_pipelines') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
    {{ incremental_since() }}

),

renamed as (

    select
        source.record_key || ':' || (stage ->> 'id')                as pipeline_stage_id,
        source.record_key                                           as pipeline_id,
        source.record ->> 'label'                                   as pipeline_label,
        stage ->> 'id'                                              as stage_id,
        stage ->> 'label'                                           as stage_label,
        (stage ->> 'displayOrder')::integer                         as display_order,
        -- HubSpot sends the metadata as strings ("true", "1.0").
        coalesce(stage -> 'metadata' ->> 'isClosed' = 'true', false) as is_closed,
        parsed.probability,
        -- Won and lost are closed stages of probability 1 and 0, in any pipeline: stage ids
        -- are the portal's own, only the default pipeline's read closedwon and closedlost.
        case
            when coalesce(stage -> 'metadata' ->> 'isClosed', 'false') <> 'true' then 'open'
            when parsed.probability = 1 then 'won'
            when parsed.probability = 0 then 'lost'
            else 'closed_unknown'
        end                                                         as stage_outcome,
        coalesce((stage ->> 'archived')::boolean, false)
            or coalesce((source.record ->> 'archived')::boolean, false) as is_archived,
        source.record_updated_at                                    as updated_at,
        source._batch_id                                            as batch_id,
        source._loaded_at                                           as loaded_at

    from source
    cross join lateral jsonb_array_elements(
        case when jsonb_typeof(source.record -> 'stages') = 'array' then source.record -> 'stages' else '[]' end
    ) as stage
    -- A probability that is not a number leaves a closed stage's outcome unknown, not the build failed.
    cross join lateral (
        select case when stage -> 'metadata' ->> 'probability' ~ '^\s*\d+(\.\d+)?\s*$'
                    then (stage -> 'metadata' ->> 'probability')::numeric end as probability
    ) as parsed

)

select * from renamed
