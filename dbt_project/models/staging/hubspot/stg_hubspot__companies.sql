{{ config(unique_key='company_id', pre_hook="{{ drop_deleted('hubspot', 'companies', 'company_id') }}", indexes=[{'columns': ['company_id'], 'unique': true}, {'columns': ['loaded_at']}]) }}
-- depends_on: {{ ref('stg_cxloop__deleted_records') }}

with

source as (

    select * from {{ source('hubspot', 'hubspot_companies') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
    {{ incremental_since() }}

),

renamed as (

    select
        record_key                                                  as company_id,
        nullif(trim(record -> 'properties' ->> 'name'), '')         as company_name,
        lower(nullif(trim(record -> 'properties' ->> 'domain'), '')) as domain,
        (record -> 'properties' ->> 'annualrevenue')::numeric(18, 2) as annual_revenue,
        record -> 'properties' ->> 'hubspot_owner_id'               as owner_id,
        (record ->> 'createdAt')::timestamptz                       as created_at,
        (record ->> 'updatedAt')::timestamptz                       as updated_at,
        _batch_id                                                   as batch_id,
        _loaded_at                                                  as loaded_at

    from source

)

select * from renamed
