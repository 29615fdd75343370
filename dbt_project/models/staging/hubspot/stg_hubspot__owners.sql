{{ config(unique_key='owner_id', indexes=[{'columns': ['owner_id'], 'unique': true}, {'columns': ['loaded_at']}]) }}

with

source as (

    select * from {{ source('hubspot', 'hubspot_owners') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
    {{ incremental_since() }}

),

renamed as (

    select
        -- Records' hubspot_owner_id holds this id, not the owner's userId.
        record_key                                                  as owner_id,
        {{ normalize_email("record ->> 'email'") }}                 as email,
        nullif(trim(record ->> 'firstName'), '')                    as first_name,
        nullif(trim(record ->> 'lastName'), '')                     as last_name,
        nullif(concat_ws(' ', nullif(trim(record ->> 'firstName'), ''),
                         nullif(trim(record ->> 'lastName'), '')), '') as full_name,
        record ->> 'type'                                           as owner_type,
        coalesce((record ->> 'archived')::boolean, false)           as is_archived,
        (record ->> 'updatedAt')::timestamptz                       as updated_at,
        _batch_id                                                   as batch_id,
        _loaded_at                                                  as loaded_at

    from source

)

select * from renamed
