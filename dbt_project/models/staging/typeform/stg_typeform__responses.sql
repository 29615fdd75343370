{{ config(unique_key='response_id', indexes=[{'columns': ['response_id'], 'unique': true}, {'columns': ['loaded_at']}]) }}

with

source as (

    select * from {{ source('typeform', 'typeform_responses') }}
    where {{ not_quarantined() }}
    {{ incremental_since() }}

),

renamed as (

    select
        record_key                                          as response_id,
        record ->> '_form_id'                               as form_id,
        (record ->> 'submitted_at')::timestamptz            as submitted_at,
        (record ->> 'landed_at')::timestamptz               as landed_at,
        (record -> '_metrics' ->> 'nps')::integer           as nps_score,
        (record -> '_metrics' ->> 'csat')::integer          as csat_score,
        (record -> '_metrics' ->> 'ces')::integer           as ces_score,
        nullif(trim(record -> '_metrics' ->> 'verbatim'), '') as verbatim,
        nullif(lower(trim(record -> '_metrics' ->> 'email')), '') as email,
        record -> 'hidden' ->> 'locale'                     as language,
        record -> 'metadata' ->> 'platform'                 as platform,
        _batch_id                                           as batch_id,
        _loaded_at                                          as loaded_at

    from source

)

select * from renamed
