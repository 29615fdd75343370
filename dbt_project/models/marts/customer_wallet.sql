{#- Share of wallet and cross-sell gaps: one row per buying customer and product category.

    What a customer bought is the line items of the won deals behind them, attributed as
    customer_health attributes deal value: the won deals of their CRM account, or, with no
    account, the won deals they are the contact of. A won deal without line items counts as
    an 'uncategorised' purchase of its whole amount, so a customer's won amounts add up to
    customer_health.arr_or_deal_value.

    Segment and the cross-sell threshold are the `customer_wallet` var (dbt_project.yml).

    A table, rebuilt each night: whether a category is a gap depends on what every customer of
    the segment bought, so one customer's new purchase can change every row of the segment. -#}
{% set wallet = var('customer_wallet') %}

with

records as (
    select * from {{ ref('int_customers_resolved') }}
    where source = 'hubspot'
),

contacts as (
    select * from {{ ref('stg_hubspot__contacts') }}
),

companies as (
    select * from {{ ref('stg_hubspot__companies') }}
),

won_deals as (
    select * from {{ ref('stg_hubspot__deals') }}
    where is_won
),

line_items as (
    select * from {{ ref('stg_hubspot__line_items') }}
),

products as (
    select * from {{ ref('stg_hubspot__products') }}
),

{{ customer_won_deals() }}

deal_items as (

    select line_items.deal_id, line_items.amount, coalesce(products.product_category, 'uncategorised') as product_category
    from line_items
    left join products on products.product_id = line_items.product_id
    where line_items.deal_id is not null

),

purchases as (

    select customer_deals.customer_id, deal_items.product_category, deal_items.amount
    from customer_deals
    inner join deal_items on deal_items.deal_id = customer_deals.deal_id
    union all
    select customer_deals.customer_id, 'uncategorised', customer_deals.amount
    from customer_deals
    where not exists (select from deal_items where deal_items.deal_id = customer_deals.deal_id)

),

bought as (

    select customer_id, product_category, sum(coalesce(amount, 0)) as won_amount
    from purchases
    group by customer_id, product_category

),

customer_totals as (
    select customer_id, sum(won_amount) as total_won_amount from bought group by customer_id
),

segments as (

    select
        customer_totals.customer_id,
        case
            when max(companies.annual_revenue) is null then 'no_account'
            when max(companies.annual_revenue) < {{ wallet.mid_market_from }} then 'small'
            when max(companies.annual_revenue) < {{ wallet.enterprise_from }} then 'mid_market'
            else 'enterprise'
        end as segment
    from customer_totals
    left join crm_links on crm_links.customer_id = customer_totals.customer_id
    left join companies on companies.company_id = crm_links.company_id
    group by customer_totals.customer_id

),

categories as (
    select product_category from products
    union
    select product_category from bought
),

-- Of the buying customers of each segment, the share that bought each category.
segment_shares as (

    select
        segments.segment,
        categories.product_category,
        count(bought.customer_id)::numeric / count(*) as buyer_share
    from segments
    cross join categories
    left join bought
        on bought.customer_id = segments.customer_id
        and bought.product_category = categories.product_category
        and bought.won_amount > 0
    group by segments.segment, categories.product_category

)

select
    segments.customer_id::text                                               as customer_id,
    categories.product_category::text                                        as product_category,
    segments.segment::text                                                   as segment,
    coalesce(bought.won_amount, 0)::numeric(18, 2)                           as won_amount,
    (case when customer_totals.total_won_amount > 0
          then coalesce(bought.won_amount, 0) / customer_totals.total_won_amount
          else 0 end)::numeric(5, 4)                                         as share_of_wallet,
    segment_shares.buyer_share::numeric(5, 4)                                as segment_buyer_share,
    -- Nobody can be sold 'uncategorised': it is never a gap.
    (coalesce(bought.won_amount, 0) <= 0
     and categories.product_category <> 'uncategorised'
     and segment_shares.buyer_share >= {{ wallet.min_buyer_share }})::boolean as is_cross_sell_gap
from segments
inner join customer_totals on customer_totals.customer_id = segments.customer_id
cross join categories
inner join segment_shares
    on segment_shares.segment = segments.segment
    and segment_shares.product_category = categories.product_category
left join bought
    on bought.customer_id = segments.customer_id
    and bought.product_category = categories.product_category
