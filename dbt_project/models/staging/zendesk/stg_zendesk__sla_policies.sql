{{ config(unique_key='sla_policy_id', indexes=[{'columns': ['sla_policy_id'], 'unique': true}, {'columns': ['loaded_at']}]) }}

with

source as (

    select * from {{ source('zendesk', 'zendesk_sla_policies') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
    {{ incremental_since() }}

),

renamed as (

    select
        (record ->> 'id')::bigint                   as sla_policy_id,
        record ->> 'title'                          as title,
        nullif(trim(record ->> 'description'), '')  as description,
        -- Tickets take the first policy, by position, whose conditions they meet.
        (record ->> 'position')::integer            as match_position,
        -- Kept as Zendesk writes them: a condition's value may be a string, a number or a list.
        record -> 'filter'                          as conditions,
        record -> 'policy_metrics'                  as targets,
        (record ->> 'created_at')::timestamptz      as created_at,
        (record ->> 'updated_at')::timestamptz      as updated_at,
        _batch_id                                   as batch_id,
        _loaded_at                                  as loaded_at

    from source

)

select * from renamed
