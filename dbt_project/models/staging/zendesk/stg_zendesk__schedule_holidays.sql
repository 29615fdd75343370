-- Rebuilt whole, as stg_zendesk__schedules: a holiday removed at the source leaves.
{{ config(materialized='table', indexes=[{'columns': ['schedule_id']}]) }}

with

source as (

    select * from {{ source('zendesk', 'zendesk_schedule_holidays') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}

),

renamed as (

    select
        (record ->> 'id')::bigint           as holiday_id,
        (record ->> 'schedule_id')::bigint  as schedule_id,
        record ->> 'name'                   as holiday_name,
        -- Both inclusive: a holiday may span several days.
        (record ->> 'start_date')::date     as start_date,
        (record ->> 'end_date')::date       as end_date,
        _loaded_at                          as loaded_at

    from source

)

select * from renamed
