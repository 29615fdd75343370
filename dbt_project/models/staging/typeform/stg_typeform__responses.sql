{{ config(unique_key='response_id', pre_hook="{{ drop_deleted('typeform', 'responses', 'response_id') }}", indexes=[{'columns': ['response_id'], 'unique': true}, {'columns': ['loaded_at']}]) }}
-- depends_on: {{ ref('stg_cxloop__deleted_records') }}
{#- Responses landed before the type was recorded were all completed ones. -#}
{%- set response_type = "coalesce(record ->> 'response_type', 'completed')" %}
{%- set is_completed = response_type ~ " = 'completed'" %}

with

source as (

    select * from {{ source('typeform', 'typeform_responses') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
    {{ incremental_since() }}

),

renamed as (

    select
        record_key                                          as response_id,
        record ->> '_form_id'                               as form_id,
        {{ response_type }}                                 as response_type,
        {{ is_completed }}                                  as is_completed,
        -- A response never submitted has Typeform's placeholder time there, not a submission.
        case when {{ is_completed }} then (record ->> 'submitted_at')::timestamptz end as submitted_at,
        (record ->> 'landed_at')::timestamptz               as landed_at,
        (record ->> 'staged_at')::timestamptz               as staged_at,
        -- Only a submitted answer counts towards NPS, CSAT and CES: a partial one reads as unanswered.
        case when {{ is_completed }} then (record -> '_metrics' ->> 'nps')::integer end  as nps_score,
        case when {{ is_completed }} then (record -> '_metrics' ->> 'csat')::integer end as csat_score,
        case when {{ is_completed }} then (record -> '_metrics' ->> 'ces')::integer end  as ces_score,
        nullif(trim(record -> '_metrics' ->> 'verbatim'), '') as verbatim,
        -- Every open-text answer, in the form's order and as written (int_verbatims_unioned reads
        -- them); `verbatim` above is only the first long one, the one a touchpoint carries.
        jsonb_path_query_array(
            record -> 'answers', '$[*] ? (@.field.type == "long_text" || @.field.type == "short_text")'
        )                                                   as open_answers,
        nullif(lower(trim(record -> '_metrics' ->> 'email')), '') as email,
        record -> 'hidden' ->> 'locale'                     as language,
        record -> 'metadata' ->> 'platform'                 as platform,
        _batch_id                                           as batch_id,
        _loaded_at                                          as loaded_at

    from source

)

select * from renamed
