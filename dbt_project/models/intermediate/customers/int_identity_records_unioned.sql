{#- One row per record that says something about who a person is, from every source, with the
    keys identity resolution matches on. Rows a touchpoint points at but whose profile has not
    landed (a ticket's requester before the users export caught up) are included bare, so every
    touchpoint has a customer.

    Incremental on (source, source_id): a night rebuilds the records whose rows changed (a contact
    or its company, a consumer's reviews, the touchpoints of a bare record); `loaded_at` is the
    newest landing among them, which is how identity resolution finds what to re-match. -#}
{{ config(
    unique_key=['source', 'source_id'],
    post_hook="{{ drop_orphaned_identity_records() }}",
    indexes=[
        {'columns': ['source', 'source_id'], 'unique': true},
        {'columns': ['email']},
        {'columns': ['phone_e164']},
        {'columns': ['crm_contact_id']},
        {'columns': ['loaded_at']},
    ]
) }}

{%- set changed = changed_since_last_build() -%}

with

companies as (
    select * from {{ ref('stg_hubspot__companies') }}
),

contacts as (
    select * from {{ ref('stg_hubspot__contacts') }}
    {% if is_incremental() %}
    -- A union of keys, not `changed or company_id in (...)`: an IN under an OR is re-scanned per row.
    where contact_id in (
        select contact_id from {{ ref('stg_hubspot__contacts') }} where {{ changed }}
        union
        select contact_id from {{ ref('stg_hubspot__contacts') }}
        where company_id in (select company_id from {{ ref('stg_hubspot__companies') }} where {{ changed }})
        union
        select merged_contact_id from {{ ref('stg_hubspot__contact_merges') }} where {{ changed }}
    )
    {% endif %}
),

-- A merged-away contact's id stands for its survivor wherever it is the CRM link.
survivors as (
    select merged_contact_id, surviving_contact_id, loaded_at from {{ ref('stg_hubspot__contact_merges') }}
),

users as (
    select * from {{ ref('stg_zendesk__users') }}
    {% if is_incremental() %}
    where user_id in (
        select user_id from {{ ref('stg_zendesk__users') }} where {{ changed }}
        union
        select user_id from {{ ref('stg_zendesk__users') }}
        where external_id in (select merged_contact_id from {{ ref('stg_hubspot__contact_merges') }} where {{ changed }})
    )
    {% endif %}
),

reviews as (
    select * from {{ ref('stg_trustpilot__reviews') }}
    where consumer_id is not null
    {% if is_incremental() %}
    and consumer_id in (select consumer_id from {{ ref('stg_trustpilot__reviews') }} where {{ changed }})
    {% endif %}
),

responses as (
    select * from {{ ref('stg_typeform__responses') }}
    {% if is_incremental() %} where {{ changed }} {% endif %}
),

file_records as (
    select * from {{ ref('stg_files__records') }}
    {% if is_incremental() %} where {{ changed }} {% endif %}
),

touchpoints as (
    select * from {{ ref('int_touchpoints_unioned') }}
    where not is_deleted
    {% if is_incremental() %}
    -- Changed or deleted: a person whose profile was deleted but not all their touchpoints is
    -- rebuilt as a bare record.
    and (identity_source, identity_id) in (
        select identity_source, identity_id from {{ ref('int_touchpoints_unioned') }} where {{ changed }}
    )
    {% endif %}
),

-- A consumer's email is only known from invited reviews: take the latest one given.
consumers as (

    select distinct on (consumer_id)
        consumer_id,
        referral_email,
        consumer_name,
        consumer_country,
        min(created_at) over (partition by consumer_id) as first_seen_at,
        max(loaded_at) over (partition by consumer_id) as loaded_at
    from reviews
    order by consumer_id, (referral_email is null), created_at desc

),

profiles as (

    select
        'hubspot'                                   as source,
        contacts.contact_id                         as source_id,
        contacts.email,
        contacts.phone_e164,
        -- The CRM id is the link other tools carry (a Zendesk user's external_id).
        coalesce(contact_merges.surviving_contact_id, contacts.contact_id) as crm_contact_id,
        nullif(concat_ws(' ', contacts.first_name, contacts.last_name), '') as full_name,
        companies.company_name,
        contacts.country,
        contacts.owner_id,
        contacts.created_at                         as first_seen_at,
        1                                           as source_rank,
        -- A merge stamps the merged-away record too, so identity resolution matches it again.
        greatest(contacts.loaded_at, companies.loaded_at, contact_merges.loaded_at) as loaded_at
    from contacts
    left join companies on companies.company_id = contacts.company_id
    left join survivors as contact_merges on contact_merges.merged_contact_id = contacts.contact_id

    union all

    select
        'zendesk', users.user_id::text, users.email, users.phone_e164,
        coalesce(user_merges.surviving_contact_id, users.external_id), users.full_name,
        null, null, null, users.created_at, 2, greatest(users.loaded_at, user_merges.loaded_at)
    from users
    left join survivors as user_merges on user_merges.merged_contact_id = users.external_id

    union all

    select
        'trustpilot', consumer_id, referral_email, null, null, consumer_name,
        null, consumer_country, null, first_seen_at, 3, loaded_at
    from consumers

    union all

    select
        'typeform', response_id, email, null, null, null,
        null, null, null, submitted_at, 4, loaded_at
    from responses

    union all

    select
        'files', record_id, email, phone_e164, null, null,
        null, null, null, occurred_at, 5, loaded_at
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
        9                                           as source_rank,
        max(touchpoints.loaded_at) over (
            partition by touchpoints.identity_source, touchpoints.identity_id
        )                                           as loaded_at
    from touchpoints
    -- Every profile counts here, changed tonight or not: a bare record is only for those missing.
    where {{ lacks_profile('touchpoints.identity_source', 'touchpoints.identity_id') }}
    order by touchpoints.identity_source, touchpoints.identity_id

)

select * from profiles
union all
select * from referenced_only
