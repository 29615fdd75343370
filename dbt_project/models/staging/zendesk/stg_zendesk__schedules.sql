-- A handful of rows the connector reads whole every run: rebuilt whole, so a schedule removed at
-- the source (its raw row now a tombstone) leaves.
{{ config(materialized='table', indexes=[{'columns': ['schedule_id'], 'unique': true}]) }}

with

source as (

    select * from {{ source('zendesk', 'zendesk_schedules') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}

),

renamed as (

    select
        (record ->> 'id')::bigint   as schedule_id,
        record ->> 'name'           as schedule_name,
        -- Zendesk's own name ("London", "Pacific Time (US & Canada)"); stg_zendesk__time_zones maps it.
        record ->> 'time_zone'      as time_zone,
        record -> 'intervals'       as intervals,
        _loaded_at                  as loaded_at

    from source

)

select * from renamed
