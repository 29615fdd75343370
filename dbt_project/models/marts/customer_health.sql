{#- Health is 100 minus a penalty per risk signal, floored at 0; each signal that applies is
    named in risk_reasons. "Recent" means the last `health_recent_days` (90) days before the
    newest interaction in the warehouse (not the wall clock), so a rebuild of the same data
    scores the same. The signals' cut-offs are the score_scales seed's bands (sentiment).

    Incremental: each night recomputes the customers whose records, touchpoints, tickets or
    account deals changed, and those the moving 90-day line crosses
    (macros/affected_customers.sql); the pre-hook removes their rows first. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_affected_customers(health_affected_customers()) }}",
) }}
-- The changed-customer filter (macros/affected_customers.sql) reads these too.
-- depends_on: {{ ref('int_customers_resolved') }}
-- depends_on: {{ ref('fct_touchpoints') }}
-- depends_on: {{ ref('int_touchpoints_unioned') }}
-- depends_on: {{ ref('int_support_tickets_enriched') }}
-- depends_on: {{ ref('stg_hubspot__contacts') }}
-- depends_on: {{ ref('stg_hubspot__deals') }}
-- depends_on: {{ ref('dim_customer') }}

{% set recent = "interval '" ~ var('health_recent_days') ~ " days'" %}

with

{% if is_incremental() %}
affected as (
    {{ health_affected_customers() }}
),
{% endif %}

customers as (
    {{ of_affected_customers(ref('dim_customer')) }}
),

touchpoints as (
    {{ of_affected_customers(ref('fct_touchpoints')) }}
),

records as (
    {{ of_affected_customers(ref('int_customers_resolved')) }}
),

tickets as (
    {{ of_affected_customers(ref('int_support_tickets_enriched'), where='not is_deleted') }}
),

deals as (
    select * from {{ ref('stg_hubspot__deals') }}
    where is_won
),

contacts as (
    select * from {{ ref('stg_hubspot__contacts') }}
),

as_of as (
    select max(occurred_at) as as_of_at from {{ ref('fct_touchpoints') }}
),

recent as (

    select
        touchpoints.customer_id,
        bool_or(touchpoints.touchpoint_type in ('csat_survey', 'support_rating')
                and touchpoints.sentiment = 'negative')                     as had_bad_csat,
        bool_or(touchpoints.touchpoint_type = 'review' and touchpoints.sentiment = 'negative') as had_bad_review,
        bool_or(touchpoints.touchpoint_type = 'ces_survey' and touchpoints.sentiment = 'negative') as had_high_effort
    from touchpoints
    cross join as_of
    where touchpoints.occurred_at > as_of.as_of_at - {{ recent }}
    group by touchpoints.customer_id

),

last_nps as (

    select distinct on (customer_id)
        customer_id,
        score::integer as last_nps,
        {{ nps_category('sentiment') }} as last_nps_category
    from touchpoints
    where touchpoint_type = 'nps_survey'
    order by customer_id, occurred_at desc, touchpoint_id

),

open_tickets as (

    select customer_id, count(*) as open_tickets
    from tickets
    where is_open
    group by customer_id

),

-- Revenue behind a customer (macros/customer_won_deals.sql).
{{ customer_won_deals(won_deals='deals') }}

deal_value as (
    select customer_id, sum(amount) as deal_value from customer_deals group by customer_id
),

signals as (

    select
        customers.customer_id,
        coalesce(open_tickets.open_tickets, 0)                              as open_tickets,
        last_nps.last_nps,
        coalesce(deal_value.deal_value, 0)                                  as arr_or_deal_value,
        array_remove(array[
            case when last_nps.last_nps_category = 'detractor' then 'Detractor at the last NPS survey (scored ' || last_nps.last_nps || ')' end,
            case when last_nps.last_nps_category = 'passive' then 'Passive at the last NPS survey (scored ' || last_nps.last_nps || ')' end,
            case when open_tickets.open_tickets > 0 then open_tickets.open_tickets || ' open support ticket(s)' end,
            case when recent.had_bad_csat then 'Bad support satisfaction rating in the last 90 days' end,
            case when recent.had_bad_review then '1–2 star review in the last 90 days' end,
            case when recent.had_high_effort then 'High effort reported in the last 90 days' end,
            case when customers.last_seen_at <= as_of.as_of_at - {{ recent }} then 'No interaction in the last 90 days' end
        ], null)                                                            as risk_reasons,
        case last_nps.last_nps_category when 'detractor' then 30 when 'passive' then 10 else 0 end
            + least(10 * coalesce(open_tickets.open_tickets, 0), 30)
            + case when recent.had_bad_csat then 20 else 0 end
            + case when recent.had_bad_review then 20 else 0 end
            + case when recent.had_high_effort then 10 else 0 end
            + case when customers.last_seen_at <= as_of.as_of_at - {{ recent }} then 10 else 0 end
                                                                            as penalty
    from customers
    cross join as_of
    left join recent using (customer_id)
    left join last_nps using (customer_id)
    left join open_tickets using (customer_id)
    left join deal_value using (customer_id)

)

select
    customer_id::text                                       as customer_id,
    greatest(100 - penalty, 0)::integer                     as health_score,
    (case
        when 100 - penalty < 50 then 'high'
        when 100 - penalty < 75 then 'medium'
        else 'low'
    end)::text                                              as churn_risk,
    risk_reasons::text[]                                    as risk_reasons,
    open_tickets::integer                                   as open_tickets,
    last_nps::integer                                       as last_nps,
    arr_or_deal_value::numeric(18, 2)                       as arr_or_deal_value
from signals
