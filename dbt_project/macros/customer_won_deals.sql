{#- The won deals behind each customer, as CTEs `crm_links` and `customer_deals` (each followed
    by a comma): the won deals of their CRM account, or, with no account, the won deals they are
    the contact of. `records`, `contacts` and `won_deals` name CTEs of the calling model
    (resolved records, stg_hubspot__contacts, won stg_hubspot__deals). customer_health's deal
    value and customer_wallet's purchases read the same attribution, so a customer's wallet adds
    up to their deal value. -#}
{% macro customer_won_deals(records='records', contacts='contacts', won_deals='won_deals') -%}
crm_links as (

    select records.customer_id, contacts.contact_id, contacts.company_id
    from {{ records }} as records
    inner join {{ contacts }} as contacts on records.source = 'hubspot' and contacts.contact_id = records.source_id

),

customer_deals as (

    -- Distinct: two CRM contacts of one person in one account must not count its deals twice.
    select crm_links.customer_id, won_deals.deal_id, won_deals.amount
    from crm_links
    inner join {{ won_deals }} as won_deals on won_deals.company_id = crm_links.company_id
    union
    select crm_links.customer_id, won_deals.deal_id, won_deals.amount
    from crm_links
    inner join {{ won_deals }} as won_deals
        on crm_links.company_id is null and won_deals.contact_id = crm_links.contact_id

),
{%- endmacro %}
