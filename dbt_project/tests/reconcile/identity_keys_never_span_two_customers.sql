-- Identity resolution settled: every key that identifies people (held by 2 up to the cap) names one customer.
with keys as (
    select 'email:' || email as key, customer_id from {{ ref('int_customers_resolved') }} where email is not null
    union all
    select 'phone:' || phone_e164, customer_id from {{ ref('int_customers_resolved') }} where phone_e164 is not null
    union all
    select 'crm:' || crm_contact_id, customer_id from {{ ref('int_customers_resolved') }}
    where crm_contact_id is not null
),

held as (
    select key, count(*) as holders, count(distinct customer_id) as customers
    from keys
    group by key
)

select * from held
where holders between 2 and {{ var('identity_key_max_records') }} and customers > 1
