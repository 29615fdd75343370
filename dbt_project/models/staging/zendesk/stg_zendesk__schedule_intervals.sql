-- Rebuilt whole, as stg_zendesk__schedules: an interval a schedule no longer has leaves with it.
{{ config(materialized='table', indexes=[{'columns': ['schedule_id']}]) }}

with

source as (

    select * from {{ source('zendesk', 'zendesk_schedules') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}

),

renamed as (

    select
        (source.record ->> 'id')::bigint            as schedule_id,
        -- Minutes since Sunday 00:00 in the schedule's zone, as served; the week ends at 10080.
        (spans.span ->> 'start_time')::integer      as start_minute,
        (spans.span ->> 'end_time')::integer        as end_minute,
        source._loaded_at                           as loaded_at

    from source
    cross join lateral jsonb_array_elements(source.record -> 'intervals') as spans (span)

)

select * from renamed
