{#- Whether a deal is won or lost is its stage's metadata (stg_hubspot__deal_stages), looked up
    by pipeline and stage: stage ids are each portal's own. A night re-reads the deals landed
    since the last build and every deal of a pipeline whose stages changed, and stamps a deal
    with the later of its own and its stage's landing, so the marts that follow deals by
    loaded_at see an outcome that moved with its stage. -#}
{{ config(unique_key='deal_id', pre_hook="{{ drop_deleted('hubspot', 'deals', 'deal_id') }}", indexes=[{'columns': ['deal_id'], 'unique': true}, {'columns': ['contact_id']}, {'columns': ['company_id']}, {'columns': ['loaded_at']}]) }}
-- depends_on: {{ ref('stg_cxloop__deleted_records') }}

with

source as (

    select * from {{ source('hubspot', 'hubspot_deals') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
    {{ incremental_since() }}
    {% if is_incremental() %}
    union all
    select * from {{ source('hubspot', 'hubspot_deals') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
        and not {{ changed_since_last_build('_loaded_at') }}
        and record -> 'properties' ->> 'pipeline' in (
            select pipeline_id from {{ ref('stg_hubspot__deal_stages') }} where {{ changed_since_last_build() }}
        )
    {% endif %}

),

stages as (
    select * from {{ ref('stg_hubspot__deal_stages') }}
),

renamed as (

    select
        source.record_key                                           as deal_id,
        source.record -> 'properties' ->> 'dealname'                as deal_name,
        (source.record -> 'properties' ->> 'amount')::numeric(18, 2) as amount,
        source.record -> 'properties' ->> 'dealstage'               as deal_stage,
        source.record -> 'properties' ->> 'pipeline'                as pipeline,
        -- A stage no landed pipeline lists is not known to be closed: null, not false.
        stages.stage_outcome                                        as stage_outcome,
        stages.stage_outcome = 'won'                                as is_won,
        stages.is_closed                                            as is_closed,
        (source.record -> 'properties' ->> 'closedate')::timestamptz as closed_at,
        source.record -> 'properties' ->> 'hubspot_owner_id'        as owner_id,
        source.record -> 'associations' -> 'companies' -> 'results' -> 0 ->> 'id' as company_id,
        source.record -> 'associations' -> 'contacts' -> 'results' -> 0 ->> 'id'  as contact_id,
        (source.record ->> 'createdAt')::timestamptz                as created_at,
        (source.record ->> 'updatedAt')::timestamptz                as updated_at,
        source._batch_id                                            as batch_id,
        greatest(source._loaded_at, stages.loaded_at)               as loaded_at

    from source
    left join stages
        on stages.pipeline_id = source.record -> 'properties' ->> 'pipeline'
        and stages.stage_id = source.record -> 'properties' ->> 'dealstage'

)

select * from renamed
