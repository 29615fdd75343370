{#- Closed loop: feedback that needs a person to follow up. An alert closes when something
    happened for that customer after it was raised: an agent reply on any of their tickets,
    or a change to their CRM contact or one of their deals. -#}
with

touchpoints as (
    select * from {{ ref('fct_touchpoints') }}
),

records as (
    select * from {{ ref('int_customers_resolved') }}
),

tickets as (
    select * from {{ ref('int_support_tickets_enriched') }}
),

contacts as (
    select * from {{ ref('stg_hubspot__contacts') }}
),

deals as (
    select * from {{ ref('stg_hubspot__deals') }}
),

raised as (

    select
        touchpoint_id,
        customer_id,
        occurred_at as raised_at,
        case
            when touchpoint_type = 'nps_survey' and score <= 6 then 'detractor'
            when touchpoint_type in ('csat_survey', 'support_rating') and sentiment = 'negative' then 'bad_csat'
            when touchpoint_type = 'review' and score <= 2 then 'low_star_review'
            when touchpoint_type = 'ces_survey' and score <= 3 then 'high_effort'
        end as reason,
        source,
        verbatim
    from touchpoints

),

crm_contacts as (

    select records.customer_id, contacts.contact_id, contacts.owner_id, contacts.updated_at
    from records
    inner join contacts on records.source = 'hubspot' and contacts.contact_id = records.source_id

),

-- The owner of the customer's oldest CRM contact: one owner per customer.
owners as (

    select distinct on (customer_id) customer_id, owner_id
    from crm_contacts
    where owner_id is not null
    order by customer_id, contact_id

),

follow_ups as (

    select customer_id, latest_comment_added_at as followed_up_at
    from tickets
    where replies > 0 and latest_comment_added_at is not null
    union all
    select customer_id, updated_at from crm_contacts
    union all
    select crm_contacts.customer_id, deals.updated_at
    from deals
    inner join crm_contacts on crm_contacts.contact_id = deals.contact_id

)

select
    ('alert:' || raised.touchpoint_id)::text    as alert_id,
    raised.customer_id::text                    as customer_id,
    raised.raised_at::timestamptz               as raised_at,
    raised.reason::text                         as reason,
    raised.source::text                         as source,
    raised.touchpoint_id::text                  as touchpoint_id,
    raised.verbatim::text                       as verbatim,
    owners.owner_id::text                       as owner,
    (not exists (
        select 1 from follow_ups
        where follow_ups.customer_id = raised.customer_id and follow_ups.followed_up_at > raised.raised_at
    ))::boolean                                 as is_open
from raised
left join owners using (customer_id)
where raised.reason is not null
