{{ config(unique_key='product_id', indexes=[{'columns': ['product_id'], 'unique': true}, {'columns': ['loaded_at']}]) }}

with

source as (

    select * from {{ source('hubspot', 'hubspot_products') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
    {{ incremental_since() }}

),

renamed as (

    select
        record_key                                                  as product_id,
        nullif(trim(record -> 'properties' ->> 'name'), '')         as product_name,
        nullif(trim(record -> 'properties' ->> 'hs_sku'), '')       as sku,
        (record -> 'properties' ->> 'price')::numeric(18, 2)        as price,
        -- The portal's custom property (ingest/hubspot.py PRODUCT_CATEGORY_PROPERTY).
        coalesce(lower(nullif(trim(record -> 'properties' ->> 'product_category'), '')), 'uncategorised')
                                                                    as product_category,
        record -> 'properties' ->> 'hs_recurring_billing_period'    as billing_period,
        (record ->> 'createdAt')::timestamptz                       as created_at,
        (record ->> 'updatedAt')::timestamptz                       as updated_at,
        _batch_id                                                   as batch_id,
        _loaded_at                                                  as loaded_at

    from source

)

select * from renamed
