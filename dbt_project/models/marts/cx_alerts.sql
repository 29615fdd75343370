{#- Closed loop: feedback that needs a person to follow up. An alert closes when something
    happened for that customer after it was raised: an agent reply on any of their tickets,
    or a change to their CRM contact or one of their deals. What counts as a detractor, a bad
    rating, a low-star review or high effort is the scale's negative band (score_scales seed).

    Incremental: each night recomputes the alerts of the customers whose records, touchpoints or
    tickets changed (macros/affected_customers.sql), or whose CRM owner was renamed or
    re-addressed; the pre-hook removes their rows first. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_affected_customers(affected_customers() ~ ' union ' ~ owner_changed_customers()) }}",
    indexes=[{'columns': ['customer_id']}],
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

touchpoints as (
    {{ of_affected_customers(ref('fct_touchpoints')) }}
),

records as (
    {{ of_affected_customers(ref('int_customers_resolved')) }}
),

tickets as (
    {{ of_affected_customers(ref('int_support_tickets_enriched'), where='not is_deleted') }}
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
        case when sentiment = 'negative' then
            case touchpoint_type
                when 'nps_survey' then 'detractor'
                when 'csat_survey' then 'bad_csat'
                when 'support_rating' then 'bad_csat'
                when 'review' then 'low_star_review'
                when 'ces_survey' then 'high_effort'
            end
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

),

-- An alert is followed up when anything above happened after it: the latest such moment decides.
last_follow_up as (
    select customer_id, max(followed_up_at) as followed_up_at from follow_ups group by customer_id
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
    (last_follow_up.followed_up_at is null
     or last_follow_up.followed_up_at <= raised.raised_at)::boolean as is_open,
    owner_people.full_name::text                as owner_name,
    owner_people.email::text                    as owner_email
from raised
left join owners using (customer_id)
left join {{ ref('stg_hubspot__owners') }} as owner_people on owner_people.owner_id = owners.owner_id
left join last_follow_up using (customer_id)
where raised.reason is not null
