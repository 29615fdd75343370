{#- How well identity resolution matches, rebuilt every night from its output: a few grouped
    passes over the resolved records, no per-customer work. -#}
{%- set max_holders = var('identity_key_max_records') %}

with

records as (
    select * from {{ ref('int_customers_resolved') }}
),

overrides as (
    select * from {{ ref('identity_overrides') }}
),

customers as (
    select customer_id, count(*) as records, bool_or(held_apart) as held_apart
    from records
    group by customer_id
),

shared_keys as (
    select 'email' as kind, count(*) as holders from records where email is not null group by email
    union all
    select 'phone', count(*) from records where phone_e164 is not null group by phone_e164
    union all
    select 'crm_link', count(*) from records where crm_contact_id is not null group by crm_contact_id
),

override_ends as (
    select
        overrides.action,
        exists (
            select from records
            where records.source = overrides.source and records.source_id = overrides.source_id
        ) and exists (
            select from records
            where records.source = overrides.other_source and records.source_id = overrides.other_source_id
        ) as applied
    from overrides
),

metrics as (

    select 'customers' as metric, 'all' as detail, count(*) as value from customers
    union all
    select 'records', 'all', count(*) from records
    union all
    select
        'customers_by_records',
        case
            when records = 1 then '1'
            when records <= 3 then '2-3'
            when records <= 9 then '4-9'
            else '10+'
        end,
        count(*)
    from customers
    group by 2
    union all
    select 'records_matched_on', matched_on, count(*) from records group by matched_on
    union all
    select 'held_apart_customers', 'all', count(*) filter (where held_apart) from customers
    union all
    select 'held_apart_records', 'all', count(*) filter (where held_apart) from records
    union all
    select 'shared_keys_over_cap', kind, count(*) from shared_keys where holders > {{ max_holders }} group by kind
    union all
    select 'records_with_shared_keys', kind, sum(holders) from shared_keys
    where holders > {{ max_holders }} group by kind
    union all
    select 'overrides_applied', action, count(*) filter (where applied) from override_ends group by action
    union all
    select 'overrides_unmatched', action, count(*) filter (where not applied) from override_ends group by action

)

select
    metric::text    as metric,
    detail::text    as detail,
    value::bigint   as value
from metrics
