{{ config(unique_key='deal_id', indexes=[{'columns': ['deal_id'], 'unique': true}, {'columns': ['contact_id']}, {'columns': ['company_id']}, {'columns': ['loaded_at']}]) }}

with

source as (

    select * from {{ source('hubspot', 'hubspot_deals') }}
    where {{ not_quarantined() }}
    {{ incremental_since() }}

),

renamed as (

    select
        record_key                                                  as deal_id,
        record -> 'properties' ->> 'dealname'                       as deal_name,
        (record -> 'properties' ->> 'amount')::numeric(18, 2)       as amount,
        record -> 'properties' ->> 'dealstage'                      as deal_stage,
        record -> 'properties' ->> 'pipeline'                       as pipeline,
        record -> 'properties' ->> 'dealstage' = 'closedwon'        as is_won,
        record -> 'properties' ->> 'dealstage' in ('closedwon', 'closedlost') as is_closed,
        (record -> 'properties' ->> 'closedate')::timestamptz       as closed_at,
        record -> 'properties' ->> 'hubspot_owner_id'               as owner_id,
        record -> 'associations' -> 'companies' -> 'results' -> 0 ->> 'id' as company_id,
        record -> 'associations' -> 'contacts' -> 'results' -> 0 ->> 'id'  as contact_id,
        (record ->> 'createdAt')::timestamptz                       as created_at,
        (record ->> 'updatedAt')::timestamptz                       as updated_at,
        _batch_id                                                   as batch_id,
        _loaded_at                                                  as loaded_at

    from source

)

select * from renamed
