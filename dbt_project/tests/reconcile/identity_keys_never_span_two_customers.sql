-- Identity resolution settled: every strong key that identifies people (an email or CRM link held
-- by 2 up to the cap, detached records aside) names one customer, and a phone that names two is
-- one that was held apart by a conflict.
with keys as (
    select 'email:' || email as key, 'strong' as strength, customer_id, held_apart
    from {{ ref('int_customers_resolved') }}
    where email is not null and not detached
    union all
    select 'crm:' || crm_contact_id, 'strong', customer_id, held_apart
    from {{ ref('int_customers_resolved') }}
    where crm_contact_id is not null and not detached
    union all
    select 'phone:' || phone_e164, 'weak', customer_id, held_apart
    from {{ ref('int_customers_resolved') }}
    where phone_e164 is not null and not detached
),

world as (
    select 'email:' || email as key, count(*) as holders
    from {{ ref('int_customers_resolved') }} where email is not null group by email
    union all
    select 'crm:' || crm_contact_id, count(*)
    from {{ ref('int_customers_resolved') }} where crm_contact_id is not null group by crm_contact_id
    union all
    select 'phone:' || phone_e164, count(*)
    from {{ ref('int_customers_resolved') }} where phone_e164 is not null group by phone_e164
),

held as (
    select
        keys.key,
        keys.strength,
        count(*) as holders_in_play,
        count(distinct keys.customer_id) as customers,
        bool_and(keys.held_apart) as all_held_apart
    from keys
    group by keys.key, keys.strength
)

select held.*
from held
inner join world using (key)
where world.holders <= {{ var('identity_key_max_records') }}
    and held.holders_in_play >= 2
    and held.customers > 1
    and (held.strength = 'strong' or not held.all_held_apart)
