{#- One row per record that says something about who a person is, from every source, with the
    keys identity resolution matches on. Rows a touchpoint points at but whose profile has not
    landed (a ticket's requester before the users export caught up) are included bare, so every
    touchpoint has a customer.

    Incremental on (source, source_id): a night rebuilds the records whose rows changed (a contact
    or its company, a consumer's reviews, the touchpoints of a bare record); `loaded_at` is the
    newest landing among them, which is how identity resolution finds what to re-match. -#}
{{ config(
    unique_key=['source', 'source_id'],
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
    )
    {% endif %}
),

users as (
    select * from {{ ref('stg_zendesk__users') }}
    {% if is_incremental() %} where {{ changed }} {% endif %}
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
    {% if is_incremental() %}
    where (identity_source, identity_id) in (
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
        contacts.contact_id                         as crm_contact_id,
        nullif(concat_ws(' ', contacts.first_name, contacts.last_name), '') as full_name,
        companies.company_name,
        contacts.country,
        contacts.owner_id,
        contacts.created_at                         as first_seen_at,
        1                                           as source_rank,
        greatest(contacts.loaded_at, companies.loaded_at) as loaded_at
    from contacts
    left join companies on companies.company_id = contacts.company_id

    union all

    select
        'zendesk', user_id::text, email, phone_e164, external_id, full_name,
        null, null, null, created_at, 2, loaded_at
    from users

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
    where not exists (
            select from {{ ref('stg_hubspot__contacts') }} as c
            where touchpoints.identity_source = 'hubspot' and c.contact_id = touchpoints.identity_id)
        and not exists (
            select from {{ ref('stg_zendesk__users') }} as u
            where touchpoints.identity_source = 'zendesk'
              and u.user_id = case when touchpoints.identity_id ~ '^\d{1,18}$' then touchpoints.identity_id::bigint end)
        and not exists (
            select from {{ ref('stg_trustpilot__reviews') }} as r
            where touchpoints.identity_source = 'trustpilot' and r.consumer_id = touchpoints.identity_id)
        and not exists (
            select from {{ ref('stg_typeform__responses') }} as t
            where touchpoints.identity_source = 'typeform' and t.response_id = touchpoints.identity_id)
        and not exists (
            select from {{ ref('stg_files__records') }} as f
            where touchpoints.identity_source = 'files' and f.record_id = touchpoints.identity_id)
    order by touchpoints.identity_source, touchpoints.identity_id

)

select * from profiles
union all
select * from referenced_only
