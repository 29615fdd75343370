{#- Identity resolution: which records are the same person.

    Two records are the same person when they share a normalised email (trimmed, lower case),
    a phone in E.164, or a CRM link (a Zendesk user's external_id = a HubSpot contact id); the
    relation is transitive, so a person is a connected component of records and keys. A key held
    by more than `identity_key_max_records` records (a shared inbox, a switchboard number) does
    not identify anyone and is ignored. A record with no usable key is a customer of its own.

    `customer_id` is derived from the component's earliest-seen record, so it is the same on
    every run and backfill over the same data, and it stays put as later records join.

    Components are found by label propagation rather than a recursive walk: every record is
    numbered in anchor order, and each round hands every record the smallest number among the
    records it shares a key with. A walk materialises every pair of records of a person (its
    memory grows with the square of a household), a round costs one pass over the keys. After
    `identity_max_rounds` rounds every chain of that many hops has settled; the test
    `identity_keys_never_span_two_customers` fails the build if a longer one did not.

    Incremental: only the records that changed since the last build, and every customer they
    belong to now or belonged to before (so a customer that splits is re-resolved whole), are
    matched again. No key reaches outside that scope: a key a changed record holds, or held,
    brings all of its holders' customers in. `previous_customer_id` and `resolved_at` tell the
    marts which customers moved. -#}
{{ config(
    unique_key=['source', 'source_id'],
    indexes=[
        {'columns': ['source', 'source_id'], 'unique': true},
        {'columns': ['customer_id']},
        {'columns': ['email']},
        {'columns': ['phone_e164']},
        {'columns': ['crm_contact_id']},
        {'columns': ['resolved_at']},
    ]
) }}

with

records as (
    select * from {{ ref('int_identity_records_unioned') }}
),

{% if is_incremental() %}

changed as (
    select source, source_id, email, phone_e164, crm_contact_id
    from records
    where {{ changed_since_last_build() }}
),

touched_keys as (
    select email, phone_e164, crm_contact_id from changed
    union all
    select previous.email, previous.phone_e164, previous.crm_contact_id
    from {{ this }} as previous
    inner join changed using (source, source_id)
),

touched_customers as (
    select previous.customer_id from {{ this }} as previous inner join changed using (source, source_id)
    union
    select customer_id from {{ this }} where email in (select email from touched_keys)
    union
    select customer_id from {{ this }} where phone_e164 in (select phone_e164 from touched_keys)
    union
    select customer_id from {{ this }} where crm_contact_id in (select crm_contact_id from touched_keys)
),

in_scope as (
    select source, source_id from changed
    union
    select source, source_id from {{ this }} where customer_id in (select customer_id from touched_customers)
),

scope as (
    select records.* from records inner join in_scope using (source, source_id)
),

{% else %}

scope as (
    select * from records
),

{% endif %}

nodes as (

    select
        source,
        source_id,
        source || ':' || source_id as record_node,
        row_number() over (
            order by first_seen_at nulls last, source_rank, source || ':' || source_id
        ) as node
    from scope

),

keys as (

    select source, source_id, 'email' as key_kind, 'email:' || email as key from scope where email is not null
    union all
    select source, source_id, 'phone', 'phone:' || phone_e164 from scope where phone_e164 is not null
    union all
    select source, source_id, 'crm_link', 'crm:' || crm_contact_id from scope where crm_contact_id is not null

),

-- Holders are counted over every record, not only those in scope: the cap is about the world.
key_holders as (

    select 'email:' || email as key, count(*) as holders
    from records where email in (select email from scope) group by email
    union all
    select 'phone:' || phone_e164, count(*)
    from records where phone_e164 in (select phone_e164 from scope) group by phone_e164
    union all
    select 'crm:' || crm_contact_id, count(*)
    from records where crm_contact_id in (select crm_contact_id from scope) group by crm_contact_id

),

identifying_keys as (

    select keys.*
    from keys
    inner join key_holders using (key)
    where key_holders.holders between 2 and {{ var('identity_key_max_records') }}

),

incidence as (
    select nodes.node, identifying_keys.key
    from identifying_keys
    inner join nodes using (source, source_id)
),

labels_0 as (
    select distinct node, node as label from incidence
),

{% for round in range(var('identity_max_rounds') | int) %}

key_labels_{{ round + 1 }} as (
    select incidence.key, min(labels_{{ round }}.label) as label
    from incidence
    inner join labels_{{ round }} using (node)
    group by incidence.key
),

labels_{{ round + 1 }} as (
    select incidence.node, min(key_labels_{{ round + 1 }}.label) as label
    from incidence
    inner join key_labels_{{ round + 1 }} using (key)
    group by incidence.node
),

{% endfor %}

matched_on as (

    -- The strongest rule tying the record to another record of its customer.
    select
        source,
        source_id,
        (array_agg(key_kind order by case key_kind when 'email' then 1 when 'phone' then 2 else 3 end))[1]
            as matched_on
    from identifying_keys
    group by source, source_id

),

anchored as (

    select nodes.source, nodes.source_id, anchors.record_node as anchor_node
    from nodes
    left join labels_{{ var('identity_max_rounds') | int }} as labels using (node)
    inner join nodes as anchors on anchors.node = coalesce(labels.label, nodes.node)

)

select
    'cus_' || left(md5(anchored.anchor_node), 16)  as customer_id,
    scope.source,
    scope.source_id,
    coalesce(matched_on.matched_on, 'unmatched')    as matched_on,
    scope.email,
    scope.phone_e164,
    scope.crm_contact_id,
    scope.full_name,
    scope.company_name,
    scope.country,
    scope.owner_id,
    scope.first_seen_at,
    scope.source_rank,
    scope.loaded_at,
    {% if is_incremental() %}
    previous.customer_id                            as previous_customer_id,
    {% else %}
    null::text                                      as previous_customer_id,
    {% endif %}
    {{ this_build_started_at() }}                   as resolved_at
from scope
inner join anchored using (source, source_id)
left join matched_on using (source, source_id)
{% if is_incremental() %}
left join {{ this }} as previous using (source, source_id)  -- noqa: AL05
{% endif %}
