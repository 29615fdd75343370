{{ config(unique_key='user_id', indexes=[{'columns': ['user_id'], 'unique': true}, {'columns': ['loaded_at']}]) }}

with

source as (

    select * from {{ source('zendesk', 'zendesk_users') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
    {{ incremental_since() }}

),

renamed as (

    select
        (record ->> 'id')::bigint                   as user_id,
        nullif(trim(record ->> 'name'), '')         as full_name,
        {{ normalize_email("record ->> 'email'") }}  as email,
        record ->> 'phone'                          as phone,
        {{ normalize_phone("record ->> 'phone'") }}  as phone_e164,
        -- Set by the account's integration; cxloop's convention is the HubSpot contact id.
        nullif(trim(record ->> 'external_id'), '')  as external_id,
        record ->> 'role'                           as role,
        record ->> 'locale'                         as locale,
        record ->> 'time_zone'                      as time_zone,
        (record ->> 'organization_id')::bigint      as organization_id,
        (record ->> 'created_at')::timestamptz      as created_at,
        (record ->> 'updated_at')::timestamptz      as updated_at,
        _batch_id                                   as batch_id,
        _loaded_at                                  as loaded_at

    from source

)

select * from renamed
