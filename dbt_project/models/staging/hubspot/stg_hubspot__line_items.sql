{{ config(unique_key='line_item_id', indexes=[{'columns': ['line_item_id'], 'unique': true}, {'columns': ['deal_id']}, {'columns': ['loaded_at']}]) }}

with

source as (

    select * from {{ source('hubspot', 'hubspot_line_items') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
    {{ incremental_since() }}

),

renamed as (

    select
        record_key                                                  as line_item_id,
        nullif(trim(record -> 'properties' ->> 'name'), '')         as line_item_name,
        -- Line items added in the deal editor may name no product.
        nullif(record -> 'properties' ->> 'hs_product_id', '')      as product_id,
        nullif(trim(record -> 'properties' ->> 'hs_sku'), '')       as sku,
        (record -> 'properties' ->> 'quantity')::numeric(18, 4)     as quantity,
        (record -> 'properties' ->> 'price')::numeric(18, 2)        as price,
        -- HubSpot computes amount from price and quantity; a record without it is priced here.
        coalesce((record -> 'properties' ->> 'amount')::numeric(18, 2),
                 ((record -> 'properties' ->> 'quantity')::numeric * (record -> 'properties' ->> 'price')::numeric
                 )::numeric(18, 2))                                 as amount,
        -- A line item has one parent; one that belongs to a quote has no deal.
        record -> 'associations' -> 'deals' -> 'results' -> 0 ->> 'id' as deal_id,
        (record ->> 'createdAt')::timestamptz                       as created_at,
        (record ->> 'updatedAt')::timestamptz                       as updated_at,
        _batch_id                                                   as batch_id,
        _loaded_at                                                  as loaded_at

    from source

)

select * from renamed
