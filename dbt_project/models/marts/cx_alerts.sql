{#- Closed loop: feedback that needs a person to follow up, and what became of the follow-up.

    What counts as a detractor, a bad rating, a low-star review or high effort is the scale's
    negative band (score_scales seed). An alert is closed only by its own follow-up: the
    help-desk ticket the follow-up step created for it (followups/, read back from the outbox
    and the nightly ticket export) being solved. Nothing else closes it: not a reply on another
    ticket, not the customer's own comment, not a CRM change. An alert without a follow-up
    (follow-ups not configured, still pending, or a dry run) stays open.

    The outcome is the customer's next answer of the same kind (their next NPS answer after a
    detractor's), if any.

    Incremental: each night recomputes the alerts of the customers whose records, touchpoints or
    tickets changed (macros/affected_customers.sql), whose CRM owner was renamed or re-addressed,
    or whose follow-up changed; the pre-hook removes their rows first. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_affected_customers(affected_customers() ~ ' union ' ~ owner_changed_customers()
                                           ~ ' union ' ~ followup_changed_customers()) }}",
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
-- depends_on: {{ ref('stg_followups__outbox') }}
-- depends_on: {{ ref('int_business_hours') }}

with

{% if is_incremental() %}
affected as (
    {{ affected_customers() }}
    union
    {{ owner_changed_customers() }}
    union
    {{ followup_changed_customers() }}
),
{% endif %}

touchpoints as (
    {{ of_affected_customers(ref('fct_touchpoints')) }}
),

records as (
    {{ of_affected_customers(ref('int_customers_resolved')) }}
),

contacts as (
    select * from {{ ref('stg_hubspot__contacts') }}
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
        verbatim,
        -- The outcome: the customer's next answer of the same kind.
        lead(score) over same_kind          as next_score,
        lead(occurred_at) over same_kind    as next_score_at
    from touchpoints
    window same_kind as (partition by customer_id, touchpoint_type order by occurred_at, touchpoint_id)

),

crm_contacts as (

    select records.customer_id, contacts.contact_id, contacts.owner_id
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

-- A follow-up's SLA counts in the schedule it was decided with, else the account's first.
default_schedule as (
    select min(schedule_id) as schedule_id from {{ ref('stg_zendesk__schedules') }}
),

followups as (

    select
        outbox.alert_id,
        outbox.followup_state,
        outbox.followup_ticket_id,
        outbox.sla_business_minutes,
        coalesce(outbox.schedule_id, (select schedule_id from default_schedule)) as schedule_id,
        tickets.created_at                                  as followup_opened_at,
        tickets.assignee_id                                 as followup_assignee_id,
        tickets.first_reply_minutes                         as followup_first_reply_minutes,
        tickets.first_reply_business_minutes                as followup_first_reply_business_minutes,
        case when not tickets.is_open then tickets.solved_at end as closed_at
    from {{ ref('stg_followups__outbox') }} as outbox
    left join {{ ref('int_support_tickets_enriched') }} as tickets
        on tickets.ticket_id = outbox.followup_ticket_id and not tickets.is_deleted

),

followed_up as (

    select raised.touchpoint_id, raised.raised_at, followups.*
    from raised
    inner join followups on followups.alert_id = 'alert:' || raised.touchpoint_id
    where raised.reason is not null

),

-- The business minutes each opening after the alert adds, running: the SLA runs out inside the
-- first opening whose running total reaches it. Openings of the following 90 days are enough
-- for any follow-up SLA of weeks.
sla_openings as (

    select
        followed_up.alert_id,
        followed_up.sla_business_minutes,
        greatest(hours.opens_at, followed_up.raised_at) as counted_from,
        sum(extract(epoch from hours.closes_at - greatest(hours.opens_at, followed_up.raised_at)) / 60)
            over (partition by followed_up.alert_id order by hours.opens_at) as counted_minutes,
        extract(epoch from hours.closes_at - greatest(hours.opens_at, followed_up.raised_at)) / 60
            as opening_minutes
    from followed_up
    inner join {{ ref('int_business_hours') }} as hours
        on hours.schedule_id = followed_up.schedule_id
        and hours.closes_at > followed_up.raised_at
        and hours.opens_at < followed_up.raised_at + interval '90 days'

),

sla_due as (

    select distinct on (alert_id)
        alert_id,
        counted_from
        + make_interval(secs => 60 * (sla_business_minutes - (counted_minutes - opening_minutes))) as sla_due_at
    from sla_openings
    where counted_minutes >= sla_business_minutes
    order by alert_id, counted_from

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
    (followups.closed_at is null)::boolean      as is_open,
    owner_people.full_name::text                as owner_name,
    owner_people.email::text                    as owner_email,
    followups.followup_state::text              as followup_state,
    followups.followup_ticket_id::bigint        as followup_ticket_id,
    followups.followup_assignee_id::bigint      as followup_assignee_id,
    followups.followup_opened_at::timestamptz   as followup_opened_at,
    followups.followup_first_reply_minutes::integer as followup_first_reply_minutes,
    followups.followup_first_reply_business_minutes::integer as followup_first_reply_business_minutes,
    followups.closed_at::timestamptz            as closed_at,
    (extract(epoch from followups.closed_at - raised.raised_at) / 60)::integer as time_to_close_minutes,
    round({{ business_minutes_between('raised.raised_at', 'followups.closed_at', 'followups.schedule_id') }})::integer
                                                as time_to_close_business_minutes,
    followups.sla_business_minutes::integer     as followup_sla_business_minutes,
    sla_due.sla_due_at::timestamptz             as followup_sla_due_at,
    (followups.closed_at <= sla_due.sla_due_at)::boolean as is_closed_within_sla,
    raised.next_score::numeric(6, 2)            as next_score,
    raised.next_score_at::timestamptz           as next_score_at
from raised
left join owners using (customer_id)
left join {{ ref('stg_hubspot__owners') }} as owner_people on owner_people.owner_id = owners.owner_id
left join followups on followups.alert_id = 'alert:' || raised.touchpoint_id
left join sla_due on sla_due.alert_id = 'alert:' || raised.touchpoint_id
where raised.reason is not null
