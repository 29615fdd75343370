{#- Which contact each merged-away contact lives on as: HubSpot keeps a merge on the surviving
    contact, whose `hs_merged_object_ids` lists every id merged into it, chained merges included,
    separated by semicolons. A merged-away contact is no longer listed, so its last landed
    version stays in raw: identity resolution re-points it (and any record carrying its id) to
    the survivor. An id listed by two survivors (merged into one that was merged in turn) lives
    on in the later of them. -#}
{{ config(unique_key='merged_contact_id', indexes=[{'columns': ['merged_contact_id'], 'unique': true}, {'columns': ['loaded_at']}]) }}

with

source as (

    select * from {{ source('hubspot', 'hubspot_contacts') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
        and nullif(trim(record -> 'properties' ->> 'hs_merged_object_ids'), '') is not null
    {{ incremental_since() }}

),

listed as (

    select
        trim(merged_ids.merged_contact_id)              as merged_contact_id,
        source.record_key                               as surviving_contact_id,
        source.record_updated_at                        as merged_by,
        source._batch_id                                as batch_id,
        source._loaded_at                               as loaded_at
    from source
    cross join lateral unnest(
        string_to_array(source.record -> 'properties' ->> 'hs_merged_object_ids', ';')
    ) as merged_ids (merged_contact_id)

),

latest as (

    select distinct on (merged_contact_id)
        merged_contact_id,
        surviving_contact_id,
        merged_by,
        batch_id,
        loaded_at
    from listed
    where merged_contact_id <> '' and merged_contact_id <> surviving_contact_id
    order by merged_contact_id, merged_by desc

)

select * from latest
