{#- Ids identity resolution replaced tonight, appended to those of earlier nights; the post-hook
    points earlier rows at tonight's id when their current customer merged away. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    post_hook="{{ follow_merged_customer_ids() }}",
) }}

with

re_resolved as (
    select previous_customer_id, customer_id, resolved_at
    from {{ ref('int_customers_resolved') }}
    where previous_customer_id is not null
    {% if is_incremental() %}
        and resolved_at > {{ last_build_started_at() }}
    {% endif %}
),

moved_from as (
    select previous_customer_id
    from re_resolved
    where customer_id <> previous_customer_id
    group by previous_customer_id
),

destinations as (
    select
        re_resolved.previous_customer_id,
        count(distinct re_resolved.customer_id) as customers,
        max(re_resolved.resolved_at) as since
    from re_resolved
    inner join moved_from using (previous_customer_id)
    group by re_resolved.previous_customer_id
),

moves as (
    select previous_customer_id, customer_id, count(*) as records_moved
    from re_resolved
    where customer_id <> previous_customer_id
    group by previous_customer_id, customer_id
)

select
    moves.previous_customer_id::text                                                as old_customer_id,
    moves.customer_id::text                                                         as current_customer_id,
    destinations.since::timestamptz                                                 as since,
    (case when destinations.customers > 1 then 'split' else 'merged' end)::text     as why,
    moves.records_moved::integer                                                    as records_moved
from moves
inner join destinations using (previous_customer_id)
