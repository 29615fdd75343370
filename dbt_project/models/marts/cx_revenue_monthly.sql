{#- Revenue by how customers feel. Each month, every customer seen by the month's end is in the
    NPS category of their latest answer up to then ('none' before any answer). won_deal_amount
    is what deals closed won that month brought in from those customers (attributed through the
    deal's contact); revenue_at_risk is, for detractors, all won revenue from them to date. -#}
with

customers as (
    select * from {{ ref('dim_customer') }}
),

touchpoints as (
    select * from {{ ref('fct_touchpoints') }}
),

records as (
    select * from {{ ref('int_customers_resolved') }}
),

won_deals as (

    select records.customer_id, deals.deal_id, deals.amount,
           date_trunc('month', deals.closed_at at time zone 'UTC')::date as won_month
    from {{ ref('stg_hubspot__deals') }} as deals
    inner join records on records.source = 'hubspot' and records.source_id = deals.contact_id
    where deals.is_won and deals.closed_at is not null

),

months as (

    select month::date as month
    from generate_series(
        (select date_trunc('month', min(first_seen_at) at time zone 'UTC') from customers),
        (select date_trunc('month', max(last_seen_at) at time zone 'UTC') from customers),
        interval '1 month'
    ) as month

),

customer_months as (

    select
        months.month,
        customers.customer_id,
        coalesce((
            select {{ nps_category('nps.score') }}
            from touchpoints as nps
            where nps.customer_id = customers.customer_id
              and nps.touchpoint_type = 'nps_survey'
              and nps.occurred_at < (months.month + interval '1 month')::timestamp at time zone 'UTC'
            order by nps.occurred_at desc, nps.touchpoint_id
            limit 1
        ), 'none') as nps_category
    from months
    inner join customers
        on customers.first_seen_at < (months.month + interval '1 month')::timestamp at time zone 'UTC'

),

revenue as (

    select
        customer_months.month,
        customer_months.nps_category,
        count(distinct customer_months.customer_id) as customers,
        coalesce(sum(won_deals.amount) filter (where won_deals.won_month = customer_months.month), 0) as won_deal_amount,
        coalesce(sum(won_deals.amount) filter (where won_deals.won_month <= customer_months.month
                                                 and customer_months.nps_category = 'detractor'), 0) as revenue_at_risk
    from customer_months
    left join won_deals on won_deals.customer_id = customer_months.customer_id
    group by 1, 2

)

select
    month::date                         as month,
    nps_category::text                  as nps_category,
    customers::integer                  as customers,
    won_deal_amount::numeric(18, 2)     as won_deal_amount,
    revenue_at_risk::numeric(18, 2)     as revenue_at_risk
from revenue
