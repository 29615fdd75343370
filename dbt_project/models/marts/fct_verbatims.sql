{#- One row per verbatim a customer wrote (a review, a survey's open answer, a ticket's description),
    with what enrichment/ found in it: the detected language, the sentiment and the topics.

    Sentiment: a verbatim that came with a rating (stars, NPS, CSAT, a good/bad rating) takes the
    rating's band as its label (method `rating`) and the rating placed on [-1, 1] as its score;
    one without takes its text's own sentiment (method `lexicon`, with the terms that carried it).

    Incremental on touchpoint_id: a night rebuilds the verbatims whose touchpoint changed, those
    of people identity resolution re-matched, and those whose text was analysed again (a new
    analysis version); a touchpoint deleted at its
    source goes (pre-hook). A verbatim landed after the enrichment step of its night shows no
    analysis until the next night. -#}
{{ config(
    materialized='incremental',
    unique_key='touchpoint_id',
    pre_hook="{{ drop_deleted_touchpoints() }}",
    on_schema_change='append_new_columns',
    indexes=[
        {'columns': ['customer_id']},
        {'columns': ['text_hash']},
        {'columns': ['occurred_at']},
        {'columns': ['loaded_at']},
    ]
) }}
-- depends_on: {{ ref('int_touchpoints_unioned') }}
-- depends_on: {{ ref('int_customers_resolved') }}

with

touchpoints as (

    select * from {{ ref('fct_touchpoints') }}
    where verbatim is not null and btrim(verbatim) <> ''
    {% if is_incremental() %}
    and touchpoint_id in (
        select touchpoint_id from {{ ref('fct_touchpoints') }} where {{ changed_since_last_build() }}
        union
        {{ touchpoints_of_rematched_people() }}
        union
        select touchpoint_id from {{ this }}
        where text_hash in (
            select text_hash from {{ ref('stg_enrichment__verbatim_analysis') }} where {{ changed_since_last_build() }}
        )
    )
    {% endif %}

),

analysis as (
    select * from {{ ref('stg_enrichment__verbatim_analysis') }}
),

scales as (
    select * from {{ ref('score_scales') }}
),

verbatims as (

    select
        touchpoints.*,
        {{ verbatim_hash('touchpoints.verbatim') }} as text_hash,
        -- The rating placed on [-1, 1]: its scale's bottom is -1, its top 1.
        case when touchpoints.score is not null and scales.max_score > scales.min_score then
            round(2 * (touchpoints.score - scales.min_score) / (scales.max_score - scales.min_score) - 1, 3)
        end as rating_score
    from touchpoints
    left join scales on scales.score_scale = touchpoints.score_scale

)

select
    verbatims.touchpoint_id::text                                                       as touchpoint_id,
    verbatims.customer_id::text                                                         as customer_id,
    verbatims.occurred_at::timestamptz                                                  as occurred_at,
    verbatims.source::text                                                              as source,
    verbatims.touchpoint_type::text                                                     as touchpoint_type,
    verbatims.channel::text                                                             as channel,
    verbatims.verbatim::text                                                            as verbatim,
    verbatims.text_hash::text                                                           as text_hash,
    verbatims.language::text                                                            as source_language,
    analysis.detected_language::text                                                    as detected_language,
    (case when verbatims.sentiment is not null then verbatims.rating_score
          else analysis.sentiment_score end)::numeric(4, 3)                             as sentiment_score,
    coalesce(verbatims.sentiment, analysis.sentiment_label)::text                       as sentiment_label,
    (case when verbatims.sentiment is not null then 'rating'
          else analysis.sentiment_method end)::text                                     as sentiment_method,
    (case when verbatims.sentiment is null then analysis.sentiment_evidence end)::text[] as sentiment_evidence,
    coalesce(analysis.topics, '{}')::text[]                                             as topics,
    analysis.analysis_version::text                                                     as analysis_version,
    greatest(verbatims.loaded_at, analysis.loaded_at)::timestamptz                      as loaded_at
from verbatims
left join analysis on analysis.text_hash = verbatims.text_hash
