{#- Every interaction from every source, in one shape. `identity_source`/`identity_id` name the
    record that says who the person is (a HubSpot contact, a Zendesk user, a Trustpilot consumer,
    the survey response or file record itself); int_customers_resolved turns it into a customer.

    Incremental: a night rebuilds the touchpoints whose own row changed, or a row they borrow
    from (a ticket's requester for the language, a rating's ticket for the channel). `loaded_at`
    is the newest landing among those rows, so models downstream see the change too.

    `origin_stream`/`origin_key` name the raw record a touchpoint comes from (a rating's is its
    ticket: a deleted ticket takes its rating with it). When the source deletes that record
    (stg_cxloop__deleted_records), the touchpoint stays here with `is_deleted` and the deletion's
    `loaded_at`: the marts drop it, and the daily KPIs know which day lost it. -#}
{{ config(
    unique_key='touchpoint_id',
    indexes=[
        {'columns': ['touchpoint_id'], 'unique': true},
        {'columns': ['identity_source', 'identity_id']},
        {'columns': ['origin_key']},
        {'columns': ['loaded_at']},
    ]
) }}

{%- set changed = changed_since_last_build() -%}

with

contacts as (
    select * from {{ ref('stg_hubspot__contacts') }}
    {% if is_incremental() %} where {{ changed }} {% endif %}
),

deals as (
    select * from {{ ref('stg_hubspot__deals') }}
    -- A deal with no contact is an account event, not a person's interaction.
    where contact_id is not null
    {% if is_incremental() %} and {{ changed }} {% endif %}
),

tickets as (
    select * from {{ ref('stg_zendesk__tickets') }}
),

users as (
    select * from {{ ref('stg_zendesk__users') }}
),

ratings as (
    select * from {{ ref('stg_zendesk__satisfaction_ratings') }} as ratings
    where score in ('good', 'bad')
        -- A rating of a deleted ticket is gone with it (unless the ticket was restored).
        and not exists (
            select from {{ ref('stg_cxloop__deleted_records') }} as deletions
            where deletions.source = 'zendesk' and deletions.stream = 'tickets'
                and deletions.record_key = ratings.ticket_id::text
                and not exists (select from {{ ref('stg_zendesk__tickets') }} as t where t.ticket_id = ratings.ticket_id)
        )
),

responses as (
    select * from {{ ref('stg_typeform__responses') }}
    {% if is_incremental() %} where {{ changed }} {% endif %}
),

reviews as (
    select * from {{ ref('stg_trustpilot__reviews') }}
    {% if is_incremental() %} where {{ changed }} {% endif %}
),

file_records as (
    select * from {{ ref('stg_files__records') }}
    {% if is_incremental() %} where {{ changed }} {% endif %}
),

{% if is_incremental() %}
changed_users as (
    select user_id from users where {{ changed }}
),

changed_tickets as (
    select ticket_id from tickets where {{ changed }}
    union
    select ticket_id from tickets where requester_id in (select user_id from changed_users)
),

changed_ratings as (
    select rating_id from ratings where {{ changed }}
    union
    select rating_id from ratings where ticket_id in (select ticket_id from changed_tickets)
    union
    select rating_id from ratings where requester_id in (select user_id from changed_users)
),
{% endif %}

file_datasets as (
    select * from {{ ref('file_datasets') }}
),

crm as (

    select
        'hubspot:contact_created:' || contact_id    as touchpoint_id,
        'hubspot'                                   as source,
        'contact_created'                           as touchpoint_type,
        null::text                                  as source_channel,
        created_at                                  as occurred_at,
        null::numeric                               as score,
        null::text                                  as score_scale,
        null::text                                  as verbatim,
        null::text                                  as language,
        'hubspot'                                   as identity_source,
        contact_id                                  as identity_id,
        'contacts'                                  as origin_stream,
        contact_id                                  as origin_key,
        loaded_at
    from contacts

    union all

    select
        'hubspot:deal_created:' || deal_id, 'hubspot', 'deal_created', null, created_at,
        null, null, null, null, 'hubspot', contact_id, 'deals', deal_id, loaded_at
    from deals

    union all

    select
        -- One id for the close whichever way it went: a won deal re-marked lost replaces it.
        'hubspot:deal_closed:' || deal_id,
        'hubspot', case when is_won then 'deal_won' else 'deal_lost' end, null,
        coalesce(closed_at, updated_at), null, null, null, null, 'hubspot', contact_id, 'deals', deal_id, loaded_at
    from deals
    where is_closed

),

support as (

    select
        'zendesk:support_ticket:' || tickets.ticket_id,
        'zendesk', 'support_ticket', tickets.source_channel, tickets.created_at,
        null::numeric, null::text, coalesce(tickets.description, tickets.subject), users.locale,
        'zendesk', tickets.requester_id::text, 'tickets', tickets.ticket_id::text,
        greatest(tickets.loaded_at, users.loaded_at)
    from tickets
    left join users on users.user_id = tickets.requester_id
    {% if is_incremental() %} where tickets.ticket_id in (select ticket_id from changed_tickets) {% endif %}

    union all

    select
        'zendesk:support_rating:' || ratings.rating_id,
        'zendesk', 'support_rating', tickets.source_channel, ratings.created_at,
        case ratings.score when 'good' then 1 else 0 end, 'good_bad', ratings.comment, users.locale,
        'zendesk', ratings.requester_id::text, 'tickets', ratings.ticket_id::text,
        greatest(ratings.loaded_at, tickets.loaded_at, users.loaded_at)
    from ratings
    left join tickets on tickets.ticket_id = ratings.ticket_id
    left join users on users.user_id = ratings.requester_id
    {% if is_incremental() %} where ratings.rating_id in (select rating_id from changed_ratings) {% endif %}

),

surveys as (

    -- One touchpoint per metric answered: a support survey asking CSAT and CES is two.
    select
        'typeform:' || metric.touchpoint_type || ':' || responses.response_id,
        'typeform', metric.touchpoint_type, 'form', responses.submitted_at,
        metric.score, metric.score_scale, responses.verbatim, responses.language,
        'typeform', responses.response_id, 'responses', responses.response_id as origin_key, responses.loaded_at
    from responses
    cross join lateral (
        values ('nps_survey', responses.nps_score::numeric, '0-10'),
               ('csat_survey', responses.csat_score::numeric, '1-5'),
               ('ces_survey', responses.ces_score::numeric, '1-7')
    ) as metric (touchpoint_type, score, score_scale)
    where metric.score is not null

),

review_site as (

    select
        'trustpilot:review:' || review_id,
        'trustpilot', 'review', null, created_at,
        stars::numeric, '1-5', coalesce(review_text, title), language,
        'trustpilot', consumer_id, 'reviews', review_id, loaded_at
    from reviews

),

dropped_files as (

    select
        'files:' || file_datasets.touchpoint_type || ':' || file_records.record_id,
        'files', file_datasets.touchpoint_type, file_records.source_channel, file_records.occurred_at,
        case file_datasets.score_column
            when 'nps' then file_records.nps_score::numeric
            when 'score' then file_records.score
        end,
        file_datasets.score_scale, file_records.verbatim, file_records.language,
        'files', file_records.record_id, null, null, file_records.loaded_at
    from file_records
    inner join file_datasets on file_datasets.dataset = file_records.dataset

),

unioned as (

    select * from crm
    union all
    select * from support
    union all
    select * from surveys
    union all
    select * from review_site
    union all
    select * from dropped_files

),

live as (

    -- An interaction nobody can be tied to (a ticket with no requester) is its own person.
    select
        touchpoint_id, source, touchpoint_type, source_channel, occurred_at, score, score_scale,
        verbatim, language, identity_source,
        coalesce(identity_id, touchpoint_id) as identity_id,
        origin_stream, origin_key, false as is_deleted, loaded_at
    from unioned

)

select * from live
{% if is_incremental() %}
union all
select
    previous.touchpoint_id, previous.source, previous.touchpoint_type, previous.source_channel,
    previous.occurred_at, previous.score, previous.score_scale, previous.verbatim, previous.language,
    previous.identity_source, previous.identity_id, previous.origin_stream, previous.origin_key,
    true as is_deleted, deletions.loaded_at
from {{ this }} as previous
inner join {{ ref('stg_cxloop__deleted_records') }} as deletions
    on deletions.source = previous.source
    and deletions.stream = previous.origin_stream
    and deletions.record_key = previous.origin_key
where {{ changed_since_last_build('deletions.loaded_at') }}
    and not previous.is_deleted
    and previous.touchpoint_id not in (select touchpoint_id from live)
{% endif %}
