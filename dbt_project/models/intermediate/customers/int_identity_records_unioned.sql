{#- One row per record that says something about who a person is, from every source, with the
    keys identity resolution matches on. Rows a touchpoint points at but whose profile has not
    landed (a ticket's requester before the users export caught up) are included bare, so every
    touchpoint has a customer. -#}
with

contacts as (
    select * from {{ ref('stg_hubspot__contacts') }}
),

companies as (
    select * from {{ ref('stg_hubspot__companies') }}
),

users as (
    select * from {{ ref('stg_zendesk__users') }}
),

reviews as (
    select * from {{ ref('stg_trustpilot__reviews') }}
),

responses as (
    select * from {{ ref('stg_typeform__responses') }}
),

file_records as (
    select * from {{ ref('stg_files__records') }}
),

touchpoints as (
    select * from {{ ref('int_touchpoints_unioned') }}
),

-- A consumer's email is only known from invited reviews: take the latest one given.
consumers as (

    select distinct on (consumer_id)
        consumer_id,
        referral_email,
        consumer_name,
        consumer_country,
        min(created_at) over (partition by consumer_id) as first_seen_at
    from reviews
    where consumer_id is not null
    order by consumer_id, (referral_email is null), created_at desc

),

profiles as (

    select
        'hubspot'                                   as source,
        contacts.contact_id                         as source_id,
        contacts.email,
        contacts.phone_e164,
        -- The CRM id is the link other tools carry (a Zendesk user's external_id).
        contacts.contact_id                         as crm_contact_id,
        nullif(concat_ws(' ', contacts.first_name, contacts.last_name), '') as full_name,
        companies.company_name,
        contacts.country,
        contacts.owner_id,
        contacts.created_at                         as first_seen_at,
        1                                           as source_rank
    from contacts
    left join companies on companies.company_id = contacts.company_id

    union all

    select
        'zendesk', user_id::text, email, phone_e164, external_id, full_name,
        null, null, null, created_at, 2
    from users

    union all

    select
        'trustpilot', consumer_id, referral_email, null, null, consumer_name,
        null, consumer_country, null, first_seen_at, 3
    from consumers

    union all

    select
        'typeform', response_id, email, null, null, null,
        null, null, null, submitted_at, 4
    from responses

    union all

    select
        'files', record_id, email, phone_e164, null, null,
        null, null, null, occurred_at, 5
    from file_records

),

referenced_only as (

    select distinct on (touchpoints.identity_source, touchpoints.identity_id)
        touchpoints.identity_source                 as source,
        touchpoints.identity_id                     as source_id,
        null::text                                  as email,
        null::text                                  as phone_e164,
        case when touchpoints.identity_source = 'hubspot' then touchpoints.identity_id end as crm_contact_id,
        null::text                                  as full_name,
        null::text                                  as company_name,
        null::text                                  as country,
        null::text                                  as owner_id,
        min(touchpoints.occurred_at) over (
            partition by touchpoints.identity_source, touchpoints.identity_id
        )                                           as first_seen_at,
        9                                           as source_rank
    from touchpoints
    left join profiles
        on profiles.source = touchpoints.identity_source
        and profiles.source_id = touchpoints.identity_id
    where profiles.source_id is null and touchpoints.identity_id is not null
    order by touchpoints.identity_source, touchpoints.identity_id

)

select * from profiles
union all
select * from referenced_only
