-- Rebuilt whole, as stg_zendesk__schedules: the account's list, read whole every run.
{{ config(materialized='table', indexes=[{'columns': ['time_zone'], 'unique': true}]) }}

with

source as (

    select * from {{ source('zendesk', 'zendesk_time_zones') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}

),

renamed as (

    select
        record ->> 'name'           as time_zone,
        record ->> 'iana_name'      as iana_time_zone,
        _loaded_at                  as loaded_at

    from source

)

select * from renamed
