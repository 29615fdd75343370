{{ config(unique_key='record_id', indexes=[{'columns': ['record_id'], 'unique': true}, {'columns': ['loaded_at']}]) }}

with

source as (

    select * from {{ source('files', 'files_records') }}
    where {{ not_quarantined() }} and {{ not_deleted() }}
    {{ incremental_since() }}

),

-- The drop's columns are whatever its dataset config maps them to; these are the names cxloop
-- understands (email, phone, nps, score, verbatim, channel, language), absent ones stay null.
renamed as (

    select
        record_key                                                  as record_id,
        record ->> '_dataset'                                       as dataset,
        record ->> '_file'                                          as file_name,
        {{ normalize_email("record ->> 'email'") }}                  as email,
        {{ normalize_phone("record ->> 'phone'") }}                  as phone_e164,
        case when record ->> 'nps' ~ '^\s*\d+\s*$' then (record ->> 'nps')::integer end as nps_score,
        case when record ->> 'score' ~ '^\s*-?\d+(\.\d+)?\s*$' then (record ->> 'score')::numeric end as score,
        nullif(trim(record ->> 'verbatim'), '')                     as verbatim,
        lower(nullif(trim(record ->> 'channel'), ''))               as source_channel,
        lower(nullif(trim(record ->> 'language'), ''))              as language,
        record_updated_at                                           as occurred_at,
        -- Every column as the dataset config named it, untouched: the free-text columns a dataset
        -- declares (seed file_datasets, verbatim_columns) are read from here, byte for byte.
        record                                                      as fields,
        _batch_id                                                   as batch_id,
        _loaded_at                                                  as loaded_at

    from source

)

select * from renamed
