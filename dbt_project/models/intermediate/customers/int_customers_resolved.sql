{#- Identity resolution: which records are the same person.

    Keys, strong and weak. Strong keys say who someone is: a normalised email (trimmed, lower
    case), a CRM link (a Zendesk user's external_id = a HubSpot contact id) and a manual merge
    (a `merge` line of seeds/identity_overrides.csv). A weak key, a phone in E.164, is shared by
    households, shops and typos, so it may join records only where no email disagrees.

    1. Records sharing a strong key are one person, transitively: a strong component.
    2. Components sharing a phone join, transitively, unless that would put two components that
       each have an email of their own (a person's address, not a shared inbox over the cap) in
       one customer. A phone held by two such components joins nobody; and where a chain of
       phones would still reach from one such component to another, every component of the
       chain stays as step 1 made it. Either way its records are `held_apart`.
       E.g. ann@ and bob@ with one landline: two customers. A help-desk user with no email and
       ann@'s phone: ann's. ann@ in the CRM and ann.work@ on a help-desk user whose external_id
       is her contact id: one customer (a CRM link is strong).
    3. A key held by more than `identity_key_max_records` records (a switchboard, info@) is no
       one's and matches nothing. A record with no usable key is a customer of its own.
    4. `split` lines detach their second record: none of its keys match (merge lines still join
       it), so an analyst undoes a wrong match in one line.

    `customer_id` is 'cus_' + md5 of the customer's earliest-seen record (then the most
    authoritative source): the same on every run and backfill over the same data, kept as later
    records join; when customers merge, the one with the earliest record keeps its id.
    `matched_on` is the strongest rule tying the record to another one of its customer.

    Incremental: `match_group` is the component of records connected by any usable key, conflicts
    ignored, so no key reaches outside it. A night re-matches the changed records, the records a
    changed override line names, and every group that one of them belongs to, belonged to, or
    shares a key with (old or new). `previous_customer_id` and `resolved_at` tell the marts which
    customers moved. -#}
{#- work_mem: the plan holds some 70 hash aggregates and joins at once (label propagation
    inlines every round), each allowed work_mem x hash_mem_multiplier: 610 MB in one backend at
    100k customers with the default 4 MB. At 1 MB they spill sooner: 209 MB, 27 s instead of 25. -#}
{{ config(
    unique_key=['source', 'source_id'],
    meta={'tested_rows_since': 'resolved_at'},
    pre_hook="set local work_mem = '1MB'",
    post_hook="{{ drop_removed_identity_records(ref('int_identity_records_unioned')) }}",
    indexes=[
        {'columns': ['source', 'source_id'], 'unique': true},
        {'columns': ['customer_id']},
        {'columns': ['match_group']},
        {'columns': ['email']},
        {'columns': ['phone_e164']},
        {'columns': ['crm_contact_id']},
        {'columns': ['resolved_at']},
    ]
) }}
-- depends_on: {{ ref('int_touchpoints_unioned') }}

{%- set max_holders = var('identity_key_max_records') %}

with

records as (
    select * from {{ ref('int_identity_records_unioned') }}
),

override_lines as (
    select
        lower(trim(action)) as action,
        source,
        source_id,
        other_source,
        other_source_id,
        md5(concat_ws('|', lower(trim(action)), source, source_id, other_source, other_source_id)) as line_key
    from {{ ref('identity_overrides') }}
),

-- The override lines naming each record: when they change, the record is matched again.
override_marks as (
    select
        source,
        source_id,
        array_agg(distinct line_key order by line_key) as overrides
    from (
        select source, source_id, line_key from override_lines
        union all
        select other_source, other_source_id, line_key from override_lines
    ) as named
    group by source, source_id
),

{% if is_incremental() %}

changed as (
    select source, source_id from records
    where {{ changed_since_last_build() }}
    union
    select source, source_id
    from override_marks as now_
    full join (select source, source_id, overrides from {{ this }} where overrides is not null) as before
        using (source, source_id)
    where now_.overrides is distinct from before.overrides
    union
    -- A record its sources deleted: its group is matched again without it (the post-hook drops its row).
    select previous.source, previous.source_id
    from {{ this }} as previous
    inner join ({{ identities_of_deleted_touchpoints() }}) as candidates using (source, source_id)
    where not exists (
        select from records where records.source = previous.source and records.source_id = previous.source_id
    )
),

touched_keys as (
    select records.email, records.phone_e164, records.crm_contact_id
    from records inner join changed using (source, source_id)
    union all
    select previous.email, previous.phone_e164, previous.crm_contact_id
    from {{ this }} as previous inner join changed using (source, source_id)
),

touched_groups as (
    select previous.match_group from {{ this }} as previous inner join changed using (source, source_id)
    union
    select match_group from {{ this }} where email in (select email from touched_keys)
    union
    select match_group from {{ this }} where phone_e164 in (select phone_e164 from touched_keys)
    union
    select match_group from {{ this }} where crm_contact_id in (select crm_contact_id from touched_keys)
),

in_scope as (
    select source, source_id from changed
    union
    select source, source_id from {{ this }} where match_group in (select match_group from touched_groups)
),

scope as (
    select records.* from records inner join in_scope using (source, source_id)
),

{% else %}

scope as (
    select * from records
),

{% endif %}

detached as (
    select distinct other_source as source, other_source_id as source_id
    from override_lines
    where action = 'split'
),

nodes as (

    select
        scope.source,
        scope.source_id,
        scope.source || ':' || scope.source_id as record_node,
        scope.email,
        scope.phone_e164,
        scope.crm_contact_id,
        detached.source is not null as detached,
        row_number() over (
            order by scope.first_seen_at nulls last, scope.source_rank, scope.source || ':' || scope.source_id
        ) as node
    from scope
    left join detached using (source, source_id)

),

merge_ends as (
    select source, source_id, line_key from override_lines where action = 'merge'
    union
    select other_source, other_source_id, line_key from override_lines where action = 'merge'
),

keys as (

    select node, 'email' as key_kind, 'email:' || email as key from nodes where email is not null and not detached
    union all
    select node, 'crm_link', 'crm:' || crm_contact_id from nodes where crm_contact_id is not null and not detached
    union all
    select node, 'phone', 'phone:' || phone_e164 from nodes where phone_e164 is not null and not detached
    union all
    select nodes.node, 'manual', 'manual:' || merge_ends.line_key
    from merge_ends
    inner join nodes using (source, source_id)

),

-- Holders are counted over every record, not only those in scope: the cap is about the world.
key_holders as (

    select 'email:' || email as key, count(*) as holders
    from records where email in (select email from nodes) group by email
    union all
    select 'phone:' || phone_e164, count(*)
    from records where phone_e164 in (select phone_e164 from nodes) group by phone_e164
    union all
    select 'crm:' || crm_contact_id, count(*)
    from records where crm_contact_id in (select crm_contact_id from nodes) group by crm_contact_id
    union all
    select key, count(*) from keys where key_kind = 'manual' group by key

),

-- A key joins only where two records in play hold it: a detached record's keys are not in play.
held_in_scope as (
    select key from keys group by key having count(*) >= 2
),

identifying_keys as (

    select keys.node, keys.key_kind, keys.key
    from keys
    inner join held_in_scope using (key)
    inner join key_holders using (key)
    where keys.key_kind = 'manual' or key_holders.holders <= {{ max_holders }}

),

strong_incidence as (
    select node, key from identifying_keys where key_kind <> 'phone'
),

{{ propagate_labels('strong_incidence', 'strong') }}

components as (
    select
        nodes.node,
        coalesce(strong_labels.label, nodes.node) as component
    from nodes
    left join strong_labels using (node)
),

-- A component with an address of its own is somebody: a phone must not join two of them.
identified as (
    select
        components.component,
        bool_or(nodes.email is not null and coalesce(holders.holders, 1) <= {{ max_holders }}) as has_email
    from components
    inner join nodes using (node)
    left join key_holders as holders on holders.key = 'email:' || nodes.email
    group by components.component
),

phone_incidence as (
    select distinct components.component as node, identifying_keys.key
    from identifying_keys
    inner join components using (node)
    where identifying_keys.key_kind = 'phone'
),

conflicting_keys as (
    select phone_incidence.key
    from phone_incidence
    inner join identified on phone_incidence.node = identified.component
    group by phone_incidence.key
    having count(*) filter (where identified.has_email) >= 2
),

usable_phone_incidence as (
    select phone_incidence.node, phone_incidence.key
    from phone_incidence
    left join conflicting_keys using (key)
    where conflicting_keys.key is null
),

{{ propagate_labels('phone_incidence', 'grouped') }}

{{ propagate_labels('usable_phone_incidence', 'weak') }}

weak_clusters as (
    select
        weak_labels.label,
        count(*) filter (where identified.has_email) >= 2 as conflicted
    from weak_labels
    inner join identified on weak_labels.node = identified.component
    group by weak_labels.label
),

holding_conflicting_keys as (
    select distinct phone_incidence.node as component
    from phone_incidence
    inner join conflicting_keys using (key)
),

resolved_components as (

    select
        identified.component,
        case
            when weak_clusters.conflicted then identified.component
            else coalesce(weak_labels.label, identified.component)
        end as label,
        coalesce(grouped_labels.label, identified.component) as group_label,
        coalesce(weak_clusters.conflicted, false) as chain_conflicted,
        coalesce(weak_clusters.conflicted, false) or holding.component is not null as held_apart
    from identified
    left join weak_labels on identified.component = weak_labels.node
    left join weak_clusters on weak_labels.label = weak_clusters.label
    left join grouped_labels on identified.component = grouped_labels.node
    left join holding_conflicting_keys as holding on identified.component = holding.component

),

-- The strongest rule tying each record to another of its customer: a phone counts where it joined.
matched_on as (

    select
        identifying_keys.node,
        (array_agg(identifying_keys.key_kind order by case identifying_keys.key_kind
            when 'email' then 1 when 'crm_link' then 2 when 'phone' then 3 else 4 end))[1] as matched_on
    from identifying_keys
    inner join components using (node)
    inner join resolved_components using (component)
    left join conflicting_keys using (key)
    where identifying_keys.key_kind <> 'phone'
        or (not resolved_components.chain_conflicted and conflicting_keys.key is null)
    group by identifying_keys.node

),

resolved as (

    select
        nodes.source,
        nodes.source_id,
        nodes.detached,
        anchors.record_node as anchor_node,
        group_anchors.record_node as group_node,
        resolved_components.held_apart,
        coalesce(matched_on.matched_on, 'unmatched') as matched_on
    from nodes
    inner join components using (node)
    inner join resolved_components using (component)
    inner join nodes as anchors on resolved_components.label = anchors.node
    inner join nodes as group_anchors on resolved_components.group_label = group_anchors.node
    left join matched_on on nodes.node = matched_on.node

)

select
    'cus_' || left(md5(resolved.anchor_node), 16)   as customer_id,
    'grp_' || left(md5(resolved.group_node), 16)    as match_group,
    scope.source,
    scope.source_id,
    resolved.matched_on,
    resolved.held_apart,
    resolved.detached,
    override_marks.overrides,
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
inner join resolved using (source, source_id)
left join override_marks using (source, source_id)
{% if is_incremental() %}
left join {{ this }} as previous using (source, source_id)  -- noqa: AL05
{% endif %}
