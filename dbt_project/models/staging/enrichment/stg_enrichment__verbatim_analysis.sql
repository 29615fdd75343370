{{ config(unique_key='text_hash', indexes=[{'columns': ['text_hash'], 'unique': true}, {'columns': ['loaded_at']}]) }}

with

source as (

    select * from {{ source('enrichment', 'verbatim_analysis') }}
    {% if is_incremental() %} where {{ changed_since_last_build('analysed_at') }} {% endif %}

),

newest as (

    select distinct on (text_hash)
        text_hash,
        analysis_version,
        detected_language,
        sentiment_score,
        sentiment_label,
        sentiment_method,
        sentiment_evidence,
        topics,
        analysed_at as loaded_at
    from source
    order by text_hash, analysed_at desc, analysis_version

)

select * from newest
