{#- Revenue by how customers feel. Each month, every customer seen by the month's end is in the
    NPS category of their latest answer up to then ('none' before any answer). won_deal_amount
    is what deals closed won that month brought in from those customers (attributed through the
    deal's contact); revenue_at_risk is, for detractors, all won revenue from them to date.

    Built from each customer's category history (the last answer of each month, carried forward
    until the next one) and running won-revenue totals: one pass over the NPS answers and the
    won deals, never a lookup per customer and month. A table rebuilt each night: its size is
    months × categories, and every month's counts depend on every customer seen by then. -#}
{{ config(materialized='table') }}

with

customers as (
    select customer_id, first_seen_at from {{ ref('dim_customer') }}
),

records as (
    select customer_id, source, source_id from {{ ref('int_customers_resolved') }} where source = 'hubspot'
),

-- The category a customer ends each month in where they answered that month.
answered_months as (

    select distinct on (customer_id, month)
        customer_id,
        date_trunc('month', occurred_at at time zone 'UTC')::date  as month,
        {{ nps_category('sentiment') }}                            as nps_category
    from {{ ref('fct_touchpoints') }}
    where touchpoint_type = 'nps_survey'
    order by customer_id, month, occurred_at desc, touchpoint_id

),

category_spans as (

    select
        customer_id,
        nps_category,
        month                                                               as from_month,
        lead(month) over (partition by customer_id order by month)          as to_month
    from answered_months

),

months as (

    select month::date as month
    from generate_series(
        (select date_trunc('month', min(first_seen_at) at time zone 'UTC') from customers),
        (select date_trunc('month', max(last_seen_at) at time zone 'UTC') from {{ ref('dim_customer') }}),
        interval '1 month'
    ) as month

),

customer_months as (

    select
        months.month,
        customers.customer_id,
        coalesce(category_spans.nps_category, 'none') as nps_category
    from customers
    inner join months
        on months.month >= date_trunc('month', customers.first_seen_at at time zone 'UTC')::date
    left join category_spans
        on category_spans.customer_id = customers.customer_id
        and months.month >= category_spans.from_month
        and (category_spans.to_month is null or months.month < category_spans.to_month)

),

won_by_month as (

    select
        records.customer_id,
        date_trunc('month', deals.closed_at at time zone 'UTC')::date as won_month,
        sum(deals.amount) as amount
    from {{ ref('stg_hubspot__deals') }} as deals
    inner join records on records.source_id = deals.contact_id
    where deals.is_won and deals.closed_at is not null
    group by 1, 2

),

-- Won revenue to date at each month a customer won something; later months carry it forward.
won_to_date as (

    select
        customer_id,
        won_month,
        amount,
        sum(amount) over (partition by customer_id order by won_month)  as amount_to_date,
        lead(won_month) over (partition by customer_id order by won_month) as next_won_month
    from won_by_month

),

revenue as (

    select
        customer_months.month,
        customer_months.nps_category,
        count(*)                                                                    as customers,
        coalesce(sum(won_to_date.amount) filter (where won_to_date.won_month = customer_months.month), 0)
                                                                                    as won_deal_amount,
        coalesce(sum(won_to_date.amount_to_date)
                 filter (where customer_months.nps_category = 'detractor'), 0)      as revenue_at_risk
    from customer_months
    left join won_to_date
        on won_to_date.customer_id = customer_months.customer_id
        and won_to_date.won_month <= customer_months.month
        and (won_to_date.next_won_month is null or won_to_date.next_won_month > customer_months.month)
    group by 1, 2

)

select
    month::date                         as month,
    nps_category::text                  as nps_category,
    customers::integer                  as customers,
    won_deal_amount::numeric(18, 2)     as won_deal_amount,
    revenue_at_risk::numeric(18, 2)     as revenue_at_risk
from revenue
