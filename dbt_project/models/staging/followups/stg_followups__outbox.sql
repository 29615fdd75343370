{{ config(unique_key='alert_id', indexes=[{'columns': ['alert_id'], 'unique': true}, {'columns': ['loaded_at']}]) }}

with

source as (

    select * from {{ source('followups', 'outbox') }}
    {% if is_incremental() %} where {{ changed_since_last_build('updated_at') }} {% endif %}

),

renamed as (

    select
        alert_id,
        customer_id                                         as decided_for_customer_id,
        reason,
        target                                              as followup_target,
        external_id                                         as followup_external_id,
        state                                               as followup_state,
        case when target = 'zendesk_ticket' and remote_id ~ '^[0-9]{1,18}$'
            then remote_id::bigint end                      as followup_ticket_id,
        sla_business_minutes,
        schedule_id,
        decided_at,
        created_at                                          as followup_created_at,
        attempts                                            as followup_attempts,
        last_error                                          as followup_error,
        updated_at                                          as loaded_at
    from source

)

select * from renamed
