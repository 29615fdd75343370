-- Identity resolution drops nobody: each identity record and each touchpoint's person is in the bridge.
select records.source, records.source_id
from {{ ref('int_identity_records_unioned') }} as records
left join {{ ref('bridge_customer_source') }} as bridge using (source, source_id)
where bridge.customer_id is null
union all
select touchpoints.identity_source, touchpoints.identity_id
from {{ ref('fct_touchpoints') }} as touchpoints
left join {{ ref('bridge_customer_source') }} as bridge
    on bridge.source = touchpoints.identity_source and bridge.source_id = touchpoints.identity_id
where bridge.customer_id is null or bridge.customer_id <> touchpoints.customer_id
