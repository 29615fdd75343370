{#- Records deleted at the source (models/staging/cxloop_audit/stg_cxloop__deleted_records.sql). -#}

{#- Filter for a staging model's source CTE: a tombstone is not a record. -#}
{% macro not_deleted() -%}
    (record ->> '{{ var("deleted_at_field") }}') is null
{%- endmacro %}

{#- Pre-hook of a staging model of a deletable stream: the rows of records deleted since its last
    build go; its source CTE (not_deleted) brings none back. The model names the ledger in a
    `depends_on` comment so that the ledger is built first. `key_type`: the key column's type. -#}
{% macro drop_deleted(source_name, stream, key_column, key_type='text') -%}
    {%- if is_incremental() -%}
    {#- The raw key cast to the column's type, not the column to text: its index then serves. #}
    delete from {{ this }} where {{ key_column }} in (
        select record_key::{{ key_type }} from ({{ deleted_since_last_build(source_name, stream) }}) as deleted
    )
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- The raw keys of `stream` deleted since this model's last successful build. -#}
{% macro deleted_since_last_build(source_name, stream) -%}
    select record_key from {{ ref('stg_cxloop__deleted_records') }}
    where source = '{{ source_name }}' and stream = '{{ stream }}' and {{ changed_since_last_build() }}
{%- endmacro %}

{#- Pre-hook of fct_touchpoints: the touchpoints whose source record was deleted since its last
    build go (int_touchpoints_unioned marks them). -#}
{% macro drop_deleted_touchpoints() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where touchpoint_id in ({{ touchpoints_deleted_since_last_build('touchpoint_id') }})
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- `columns` of the touchpoints whose source record was deleted since this model's last build. -#}
{% macro touchpoints_deleted_since_last_build(columns) -%}
    select {{ columns }} from {{ ref('int_touchpoints_unioned') }}
    where is_deleted and {{ changed_since_last_build() }}
{%- endmacro %}

{#- The people (identity_source, identity_id) of touchpoints deleted since this model's last build:
    the identity records a deletion may have left with nothing to stand on. -#}
{% macro identities_of_deleted_touchpoints() -%}
    select distinct identity_source as source, identity_id as source_id
    from ({{ touchpoints_deleted_since_last_build('identity_source, identity_id') }}) as deleted
{%- endmacro %}

{#- Post-hook of int_identity_records_unioned: a record whose source deleted its last trace (its
    profile and every touchpoint of it) is no one's any more. -#}
{% macro drop_orphaned_identity_records() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as records
    using ({{ identities_of_deleted_touchpoints() }}) as candidates
    where records.source = candidates.source and records.source_id = candidates.source_id
        and {{ lacks_profile('records.source', 'records.source_id') }}
        and not exists (
            select from {{ ref('int_touchpoints_unioned') }} as live
            where live.identity_source = records.source and live.identity_id = records.source_id
                and not live.is_deleted
        )
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- No source holds a profile of record (`source_sql`, `id_sql`) any more: no CRM contact, help-desk
    user, reviewer with a review, survey response or file record. NOT EXISTS apart, not NOT of an
    OR: the planner turns each into an anti-join, where an OR of EXISTS is probed row by row. -#}
{% macro lacks_profile(source_sql, id_sql) -%}
    not exists (
        select from {{ ref('stg_hubspot__contacts') }} as c
        where {{ source_sql }} = 'hubspot' and c.contact_id = {{ id_sql }})
    and not exists (
        select from {{ ref('stg_zendesk__users') }} as u
        where {{ source_sql }} = 'zendesk'
          and u.user_id = case when {{ id_sql }} ~ '^\d{1,18}$' then {{ id_sql }}::bigint end)
    and not exists (
        select from {{ ref('stg_trustpilot__reviews') }} as r
        where {{ source_sql }} = 'trustpilot' and r.consumer_id = {{ id_sql }})
    and not exists (
        select from {{ ref('stg_typeform__responses') }} as t
        where {{ source_sql }} = 'typeform' and t.response_id = {{ id_sql }})
    and not exists (
        select from {{ ref('stg_files__records') }} as f
        where {{ source_sql }} = 'files' and f.record_id = {{ id_sql }})
{%- endmacro %}

{#- Post-hook of int_customers_resolved, and pre-hook of the marts keyed by record: rows of
    records that int_identity_records_unioned dropped since this model's last build go. -#}
{% macro drop_removed_identity_records(records_relation) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as resolved
    using ({{ identities_of_deleted_touchpoints() }}) as candidates
    where resolved.source = candidates.source and resolved.source_id = candidates.source_id
        and not exists (
            select from {{ records_relation }} as records
            where records.source = resolved.source and records.source_id = resolved.source_id
        )
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
