{#- The customers a customer-level mart must recompute tonight: those whose records identity
    resolution re-matched (under the id they have now and the id they had), those with new,
    changed or deleted touchpoints or tickets, and those whose CRM account won or changed a deal. Since this
    model's last successful build (macros/build_watermarks.sql). -#}
{% macro affected_customers() -%}
    select customer_id from {{ ref('int_customers_resolved') }}
    where resolved_at > {{ last_build_started_at() }}
    union
    select previous_customer_id from {{ ref('int_customers_resolved') }}
    where resolved_at > {{ last_build_started_at() }} and previous_customer_id is not null
    union
    select customer_id from {{ ref('fct_touchpoints') }}
    where {{ changed_since_last_build() }}
    union
    select resolved.customer_id
    from ({{ touchpoints_deleted_since_last_build('identity_source, identity_id') }}) as deleted
    inner join {{ ref('int_customers_resolved') }} as resolved
        on resolved.source = deleted.identity_source and resolved.source_id = deleted.identity_id
    union
    select customer_id from {{ ref('int_support_tickets_enriched') }}
    where {{ changed_since_last_build() }} and customer_id is not null
    union
    select records.customer_id
    from {{ ref('int_customers_resolved') }} as records
    inner join {{ ref('stg_hubspot__contacts') }} as contacts
        on records.source = 'hubspot' and contacts.contact_id = records.source_id
    where contacts.company_id in (
        select company_id from {{ ref('stg_hubspot__deals') }} where {{ changed_since_last_build() }}
    )
{%- endmacro %}

{#- The customers whose CRM owner was renamed or re-addressed since the model's last build: the
    marts that name a customer's owner (dim_customer, cx_alerts) recompute them too. -#}
{% macro owner_changed_customers() -%}
    select records.customer_id
    from {{ ref('int_customers_resolved') }} as records
    inner join {{ ref('stg_hubspot__owners') }} as owners on owners.owner_id = records.owner_id
    where records.source = 'hubspot' and {{ changed_since_last_build('owners.loaded_at') }}
{%- endmacro %}

{#- Pre-hook of a customer-level mart: its rows of the customers rebuilt tonight go first, so
    the model appends them afresh and a customer merged away, or deleted at every source, leaves
    no row behind. -#}
{% macro delete_affected_customers(affected_sql=none) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where customer_id in ({{ affected_sql or affected_customers() }});
    -- A customer whose every record its sources deleted is no longer resolved at all. Checked only
    -- on a night with deletions: the guard is evaluated once, before any row is read.
    delete from {{ this }} as mart
    where exists ({{ touchpoints_deleted_since_last_build('1') }})
        and not exists (
            select from {{ ref('int_customers_resolved') }} as resolved where resolved.customer_id = mart.customer_id
        )
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- customer_health also depends on the warehouse's newest interaction (its "as of"): when that
    moves, customers whose recent signals or last interaction cross the 90-day line change too,
    though nothing of theirs did. The previous as-of is the newest interaction among the
    touchpoints this model had already seen. -#}
{% macro health_affected_customers() -%}
    {{ affected_customers() }}
    union
    select touchpoints.customer_id
    from {{ ref('fct_touchpoints') }} as touchpoints, {{ health_as_of_moves() }} as moves
    where touchpoints.occurred_at > moves.window_from and touchpoints.occurred_at <= moves.window_to
    union
    select customers.customer_id
    from {{ ref('dim_customer') }} as customers, {{ health_as_of_moves() }} as moves
    where customers.last_seen_at > moves.window_from and customers.last_seen_at <= moves.window_to
{%- endmacro %}

{% macro health_as_of_moves() -%}
    (
        select
            least(before.as_of_at, now_.as_of_at) - interval '{{ var("health_recent_days") }} days' as window_from,
            greatest(before.as_of_at, now_.as_of_at) - interval '{{ var("health_recent_days") }} days' as window_to
        from
            (select max(occurred_at) as as_of_at from {{ ref('fct_touchpoints') }}) as now_,
            (select max(occurred_at) as as_of_at from {{ ref('fct_touchpoints') }}
             where loaded_at < {{ last_build_started_at() }}) as before
    )
{%- endmacro %}

{#- The rows of `relation` that belong to the customers a customer-level mart rebuilds tonight
    (its CTE `affected`); all of them on a full build. `where`: the rows the mart reads at all. -#}
{% macro of_affected_customers(relation, where='true') -%}
    select * from {{ relation }}
    where {{ where }}
    {%- if is_incremental() %} and customer_id in (select customer_id from affected){% endif %}
{%- endmacro %}

{#- The touchpoints of people identity resolution re-matched since this model's last build: a new
    record can join two people into one customer, or split one, and what they did before must be
    re-keyed. -#}
{% macro touchpoints_of_rematched_people() -%}
    select unioned.touchpoint_id
    from {{ ref('int_touchpoints_unioned') }} as unioned
    inner join {{ ref('int_customers_resolved') }} as resolved
        on unioned.identity_source = resolved.source and unioned.identity_id = resolved.source_id
    where resolved.resolved_at > {{ last_build_started_at() }}
{%- endmacro %}

{#- The customers whose alerts' follow-ups changed since the model's last build: the follow-up
    step recorded a new state, or the follow-up ticket changed (was answered, solved, reopened). -#}
{% macro followup_changed_customers() -%}
    select touchpoints.customer_id
    from {{ ref('stg_followups__outbox') }} as outbox
    inner join {{ ref('fct_touchpoints') }} as touchpoints
        on touchpoints.touchpoint_id = substr(outbox.alert_id, length('alert:') + 1)
    where {{ changed_since_last_build('outbox.loaded_at') }}
        or outbox.followup_ticket_id in (
            select ticket_id from {{ ref('int_support_tickets_enriched') }} where {{ changed_since_last_build() }}
        )
{%- endmacro %}

{#- The tickets whose requester identity resolution re-matched since the model's last build: their
    customer changed though the ticket did not. -#}
{% macro tickets_of_rematched_requesters() -%}
    select requested.ticket_id
    from {{ ref('int_customers_resolved') }} as resolved
    inner join {{ ref('stg_zendesk__tickets') }} as requested
        -- The id cast on the few re-matched records, so the tickets' requester index serves.
        on requested.requester_id = case when resolved.source_id ~ '^\d{1,18}$' then resolved.source_id::bigint end
    where resolved.source = 'zendesk' and resolved.resolved_at > {{ last_build_started_at() }}
{%- endmacro %}
