{#- Incremental: the records identity resolution re-matched since this mart's last build; a record
    whose sources deleted it goes. -#}
{{ config(
    materialized='incremental',
    unique_key=['source', 'source_id'],
    pre_hook="{{ drop_removed_identity_records(ref('int_customers_resolved')) }}",
    indexes=[{'columns': ['customer_id']}]
) }}
-- depends_on: {{ ref('int_touchpoints_unioned') }}

select
    customer_id::text   as customer_id,
    source::text        as source,
    source_id::text     as source_id,
    matched_on::text    as matched_on
from {{ ref('int_customers_resolved') }}
{% if is_incremental() %}
where resolved_at > {{ last_build_started_at() }}
{% endif %}
