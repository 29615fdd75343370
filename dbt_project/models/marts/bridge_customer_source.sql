select
    customer_id::text   as customer_id,
    source::text        as source,
    source_id::text     as source_id,
    matched_on::text    as matched_on
from {{ ref('int_customers_resolved') }}
