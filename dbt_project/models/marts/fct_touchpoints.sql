{{ config(
    materialized='incremental',
    unique_key='touchpoint_id',
    pre_hook="{{ drop_deleted_touchpoints() }}",
    meta={'tested_rows_since': 'loaded_at'},
    on_schema_change='append_new_columns',
    indexes=[
        {'columns': ['customer_id']},
        {'columns': ['identity_source', 'identity_id']},
        {'columns': ['touchpoint_type', 'occurred_at']},
        {'columns': ['occurred_at']},
        {'columns': ['loaded_at']},
    ]
) }}

with

customers as (
    select * from {{ ref('int_customers_resolved') }}
),

touchpoints as (

    select * from {{ ref('int_touchpoints_unioned') }}
    where not is_deleted
    {% if is_incremental() %}
    -- One semi-join on a union of keys, not `changed or (...) in (...)`: under an OR the planner
    -- cannot turn the IN into a join and re-scans it for every touchpoint.
    and touchpoint_id in (
        select touchpoint_id from {{ ref('int_touchpoints_unioned') }}
        where {{ changed_since_last_build() }}
        union
        {{ touchpoints_of_rematched_people() }}
    )
    {% endif %}

),

journey as (
    select * from {{ ref('touchpoint_types') }}
),

scales as (
    select * from {{ ref('score_scales') }}
)

select
    touchpoints.touchpoint_id::text                                         as touchpoint_id,
    customers.customer_id::text                                             as customer_id,
    touchpoints.occurred_at::timestamptz                                    as occurred_at,
    touchpoints.source::text                                                as source,
    touchpoints.touchpoint_type::text                                       as touchpoint_type,
    {{ map_channel('touchpoints.source', 'touchpoints.source_channel') }}::text as channel,
    journey.journey_stage::text                                             as journey_stage,
    touchpoints.score::numeric(7, 2)                                        as score,
    touchpoints.score_scale::text                                           as score_scale,
    (case
        when touchpoints.score is null then null
        when touchpoints.score >= scales.positive_from then 'positive'
        when touchpoints.score <= scales.negative_to then 'negative'
        else 'neutral'
    end)::text                                                              as sentiment,
    touchpoints.verbatim::text                                              as verbatim,
    touchpoints.language::text                                              as language,
    touchpoints.identity_source::text                                       as identity_source,
    touchpoints.identity_id::text                                           as identity_id,
    touchpoints.loaded_at::timestamptz                                      as loaded_at
from touchpoints
inner join customers
    on customers.source = touchpoints.identity_source
    and customers.source_id = touchpoints.identity_id
left join journey on journey.touchpoint_type = touchpoints.touchpoint_type
left join scales on scales.score_scale = touchpoints.score_scale
