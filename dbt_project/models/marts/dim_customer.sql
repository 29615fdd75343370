{#- Incremental: each night recomputes the customers whose records or touchpoints changed
    (macros/affected_customers.sql), and those whose CRM owner was renamed or re-addressed; the
    pre-hook removes their rows first, so a customer that identity resolution merged away leaves
    none behind. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_affected_customers(affected_customers() ~ ' union ' ~ owner_changed_customers()) }}",
    indexes=[{'columns': ['last_seen_at']}],
) }}
-- The changed-customer filter (macros/affected_customers.sql) reads these too.
-- depends_on: {{ ref('int_customers_resolved') }}
-- depends_on: {{ ref('fct_touchpoints') }}
-- depends_on: {{ ref('int_touchpoints_unioned') }}
-- depends_on: {{ ref('int_support_tickets_enriched') }}
-- depends_on: {{ ref('stg_hubspot__contacts') }}
-- depends_on: {{ ref('stg_hubspot__deals') }}
-- depends_on: {{ ref('stg_hubspot__owners') }}

with

{% if is_incremental() %}
affected as (
    {{ affected_customers() }}
    union
    {{ owner_changed_customers() }}
),
{% endif %}

records as (
    {{ of_affected_customers(ref('int_customers_resolved')) }}
),

touchpoints as (
    {{ of_affected_customers(ref('fct_touchpoints')) }}
),

-- Attributes come from the most authoritative record that has them: CRM first, then the help
-- desk, the review site, surveys and files (source_rank).
profile as (

    select
        customer_id,
        (array_agg(email order by source_rank, source_id) filter (where email is not null))[1]               as email,
        (array_agg(full_name order by source_rank, source_id) filter (where full_name is not null))[1]       as full_name,
        (array_agg(company_name order by source_rank, source_id) filter (where company_name is not null))[1] as company_name,
        (array_agg(country order by source_rank, source_id) filter (where country is not null))[1]           as country,
        min(first_seen_at)                                                                                    as first_record_at,
        count(*)                                                                                              as source_records
    from records
    group by customer_id

),

activity as (

    select customer_id, min(occurred_at) as first_touch_at, max(occurred_at) as last_touch_at
    from touchpoints
    group by customer_id

),

-- The owner of the customer's oldest CRM contact, as cx_alerts names it: one owner per customer.
crm_owner as (

    select distinct on (records.customer_id)
        records.customer_id,
        records.owner_id,
        owners.full_name as owner_name,
        owners.email     as owner_email
    from records
    left join {{ ref('stg_hubspot__owners') }} as owners on owners.owner_id = records.owner_id
    where records.source = 'hubspot' and records.owner_id is not null
    order by records.customer_id, records.source_id

),

latest_nps as (

    select distinct on (customer_id)
        customer_id,
        {{ nps_category('sentiment') }} as nps_category
    from touchpoints
    where touchpoint_type = 'nps_survey'
    order by customer_id, occurred_at desc, touchpoint_id

)

select
    profile.customer_id::text                                               as customer_id,
    profile.email::text                                                     as email,
    profile.full_name::text                                                 as full_name,
    profile.company_name::text                                              as company_name,
    profile.country::text                                                   as country,
    least(profile.first_record_at, activity.first_touch_at)::timestamptz    as first_seen_at,
    greatest(profile.first_record_at, activity.last_touch_at)::timestamptz  as last_seen_at,
    coalesce(latest_nps.nps_category, 'none')::text                         as latest_nps_category,
    profile.source_records::integer                                         as source_records,
    crm_owner.owner_id::text                                                as owner_id,
    crm_owner.owner_name::text                                              as owner_name,
    crm_owner.owner_email::text                                             as owner_email
from profile
left join activity using (customer_id)
left join latest_nps using (customer_id)
left join crm_owner using (customer_id)
