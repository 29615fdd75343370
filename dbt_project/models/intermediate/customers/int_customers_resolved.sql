{#- Identity resolution: which records are the same person.

    Two records are the same person when they share a normalised email (trimmed, lower case),
    a phone in E.164, or a CRM link (a Zendesk user's external_id = a HubSpot contact id); the
    relation is transitive, so a person is a connected component of records and keys. A key held
    by more than `identity_key_max_records` records (a shared inbox, a switchboard number) does
    not identify anyone and is ignored. A record with no usable key is a customer of its own.

    `customer_id` is derived from the component's earliest-seen record, so it is the same on
    every run and backfill over the same data, and it stays put as later records join. -#}
with

records as (

    select
        *,
        source || ':' || source_id as record_node
    from {{ ref('int_identity_records_unioned') }}

),

keys as (

    select record_node, 'email' as key_kind, 'email:' || email as key from records where email is not null
    union all
    select record_node, 'phone', 'phone:' || phone_e164 from records where phone_e164 is not null
    union all
    select record_node, 'crm_link', 'crm:' || crm_contact_id from records where crm_contact_id is not null

),

identifying_keys as (

    select keys.*
    from keys
    inner join (
        select key
        from keys
        group by key
        having count(*) between 2 and {{ var('identity_key_max_records') }}
    ) as shared using (key)

),

-- Every record reaches itself, then whatever shares a key with a record it reaches.
reach (record_node, reached_node) as (

    with recursive walk (record_node, reached_node) as (
        select record_node, record_node from records
        union
        select walk.record_node, there.record_node
        from walk
        inner join identifying_keys as here on here.record_node = walk.reached_node
        inner join identifying_keys as there on there.key = here.key
    )
    select * from walk

),

anchored as (

    select distinct on (reach.record_node)
        reach.record_node,
        reach.reached_node as anchor_node
    from reach
    inner join records on records.record_node = reach.reached_node
    order by reach.record_node, records.first_seen_at nulls last, records.source_rank, reach.reached_node

),

matched_on as (

    -- The strongest rule tying the record to another record of its customer.
    select
        record_node,
        (array_agg(key_kind order by case key_kind when 'email' then 1 when 'phone' then 2 else 3 end))[1]
            as matched_on
    from identifying_keys
    group by record_node

)

select
    'cus_' || left(md5(anchored.anchor_node), 16)  as customer_id,
    records.source,
    records.source_id,
    coalesce(matched_on.matched_on, 'unmatched')    as matched_on,
    records.email,
    records.phone_e164,
    records.full_name,
    records.company_name,
    records.country,
    records.owner_id,
    records.first_seen_at,
    records.source_rank
from records
inner join anchored using (record_node)
left join matched_on using (record_node)
