{{ config(unique_key='review_id', pre_hook="{{ drop_deleted('trustpilot', 'reviews', 'review_id') }}", indexes=[{'columns': ['review_id'], 'unique': true}, {'columns': ['consumer_id']}, {'columns': ['loaded_at']}]) }}
-- depends_on: {{ ref('stg_cxloop__deleted_records') }}

with

source as (

    select * from {{ source('trustpilot', 'trustpilot_reviews') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
    {{ incremental_since() }}

),

renamed as (

    select
        record_key                                          as review_id,
        record -> 'consumer' ->> 'id'                       as consumer_id,
        record -> 'consumer' ->> 'displayName'              as consumer_name,
        -- "Warszawa, PL": the consumer's country is the code after the last comma.
        upper(nullif(substring(record -> 'consumer' ->> 'displayLocation' from ',\s*([A-Za-z]{2})\s*$'), ''))
                                                            as consumer_country,
        (record ->> 'stars')::integer                       as stars,
        nullif(trim(record ->> 'title'), '')                as title,
        nullif(trim(record ->> 'text'), '')                 as review_text,
        lower(record ->> 'language')                        as language,
        {{ normalize_email("record ->> 'referralEmail'") }}  as referral_email,
        record ->> 'referenceId'                            as reference_id,
        record ->> 'source'                                 as review_source,
        record ->> 'status'                                 as status,
        (record -> 'companyReply' ->> 'createdAt')::timestamptz as company_replied_at,
        (record ->> 'experiencedAt')::timestamptz           as experienced_at,
        (record ->> 'createdAt')::timestamptz               as created_at,
        coalesce((record ->> 'updatedAt')::timestamptz, (record ->> 'createdAt')::timestamptz)
                                                            as updated_at,
        _batch_id                                           as batch_id,
        _loaded_at                                          as loaded_at

    from source

)

select * from renamed
