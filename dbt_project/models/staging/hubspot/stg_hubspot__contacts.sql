{{ config(unique_key='contact_id', pre_hook="{{ drop_deleted('hubspot', 'contacts', 'contact_id') }}", indexes=[{'columns': ['contact_id'], 'unique': true}, {'columns': ['company_id']}, {'columns': ['loaded_at']}]) }}
-- depends_on: {{ ref('stg_cxloop__deleted_records') }}

with

source as (

    select * from {{ source('hubspot', 'hubspot_contacts') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
    {{ incremental_since() }}

),

renamed as (

    select
        record_key                                                  as contact_id,
        {{ normalize_email("record -> 'properties' ->> 'email'") }}  as email,
        nullif(trim(record -> 'properties' ->> 'firstname'), '')    as first_name,
        nullif(trim(record -> 'properties' ->> 'lastname'), '')     as last_name,
        record -> 'properties' ->> 'phone'                          as phone,
        {{ normalize_phone("record -> 'properties' ->> 'phone'") }}  as phone_e164,
        upper(nullif(trim(record -> 'properties' ->> 'country'), '')) as country,
        record -> 'properties' ->> 'hubspot_owner_id'               as owner_id,
        record -> 'properties' ->> 'lifecyclestage'                 as lifecycle_stage,
        -- HubSpot's primary company association; its order is the API's.
        record -> 'associations' -> 'companies' -> 'results' -> 0 ->> 'id' as company_id,
        (record ->> 'createdAt')::timestamptz                       as created_at,
        (record ->> 'updatedAt')::timestamptz                       as updated_at,
        _batch_id                                                   as batch_id,
        _loaded_at                                                  as loaded_at

    from source

)

select * from renamed
