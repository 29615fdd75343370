{#- One row per verbatim a customer wrote (int_verbatims_unioned: a review's title and its text,
    every open answer of a survey, a ticket's description, a rating's comment, a file record's
    declared free-text columns), with what enrichment/ found in it: the detected language, the
    sentiment and the topics.

    Sentiment: a verbatim that comments on its touchpoint's rating (stars, NPS, CSAT, a good/bad
    rating; is_rating_comment) takes the rating's band as its label (method `rating`) and the
    rating placed on [-1, 1] as its score; any other takes its text's own (method `lexicon`, with
    the terms that carried it). Of a survey's open answers only the first follows the score.

    Incremental on verbatim_id: a night rebuilds the verbatims that changed, those of people
    identity resolution re-matched, and those whose text was analysed again (a new analysis
    version); a verbatim gone at its source goes (pre-hook). A verbatim landed after the enrichment
    step of its night shows no analysis until the next night. -#}
{{ config(
    materialized='incremental',
    unique_key='verbatim_id',
    pre_hook="{% if is_incremental() %}
        delete from {{ this }} where verbatim_id in (
            select verbatim_id from {{ ref('int_verbatims_unioned') }}
            where is_deleted and {{ changed_since_last_build() }}
        )
        {% else %} select 1 {% endif %}",
    meta={'tested_rows_since': 'loaded_at'},
    on_schema_change='append_new_columns',
    indexes=[
        {'columns': ['touchpoint_id']},
        {'columns': ['customer_id']},
        {'columns': ['text_hash']},
        {'columns': ['occurred_at']},
        {'columns': ['loaded_at']},
    ]
) }}
-- depends_on: {{ ref('int_touchpoints_unioned') }}
-- depends_on: {{ ref('int_customers_resolved') }}

with

verbatims as (

    select * from {{ ref('int_verbatims_unioned') }}
    where not is_deleted
    {% if is_incremental() %}
    and verbatim_id in (
        select verbatim_id from {{ ref('int_verbatims_unioned') }} where {{ changed_since_last_build() }}
        union
        select verbatim_id from {{ ref('int_verbatims_unioned') }}
        where touchpoint_id in ({{ touchpoints_of_rematched_people() }})
        union
        select verbatim_id from {{ this }}
        where text_hash in (
            select text_hash from {{ ref('stg_enrichment__verbatim_analysis') }} where {{ changed_since_last_build() }}
        )
    )
    {% endif %}

),

touchpoints as (
    select * from {{ ref('fct_touchpoints') }}
),

analysis as (
    select * from {{ ref('stg_enrichment__verbatim_analysis') }}
),

scales as (
    select * from {{ ref('score_scales') }}
),

rated as (

    select
        verbatims.*,
        touchpoints.customer_id,
        touchpoints.touchpoint_type,
        touchpoints.channel,
        {{ verbatim_hash('verbatims.verbatim') }} as text_hash,
        case when verbatims.is_rating_comment then touchpoints.sentiment end as rating_label,
        -- The rating placed on [-1, 1]: its scale's bottom is -1, its top 1.
        case when verbatims.is_rating_comment and touchpoints.score is not null and scales.max_score > scales.min_score then
            round(2 * (touchpoints.score - scales.min_score) / (scales.max_score - scales.min_score) - 1, 3)
        end as rating_score
    from verbatims
    -- A touchpoint with no customer (none resolved yet) is not in fct_touchpoints: nor are its texts.
    inner join touchpoints on touchpoints.touchpoint_id = verbatims.touchpoint_id
    left join scales on scales.score_scale = touchpoints.score_scale

)

select
    rated.verbatim_id::text                                                          as verbatim_id,
    rated.touchpoint_id::text                                                        as touchpoint_id,
    rated.customer_id::text                                                          as customer_id,
    rated.occurred_at::timestamptz                                                   as occurred_at,
    rated.source::text                                                               as source,
    rated.touchpoint_type::text                                                      as touchpoint_type,
    rated.channel::text                                                              as channel,
    rated.field::text                                                                as field,
    rated.question_ref::text                                                         as question_ref,
    rated.verbatim::text                                                             as verbatim,
    rated.text_hash::text                                                            as text_hash,
    rated.source_language::text                                                      as source_language,
    analysis.detected_language::text                                                 as detected_language,
    (case when rated.rating_label is not null then rated.rating_score
          else analysis.sentiment_score end)::numeric(4, 3)                          as sentiment_score,
    coalesce(rated.rating_label, analysis.sentiment_label)::text                     as sentiment_label,
    (case when rated.rating_label is not null then 'rating'
          else analysis.sentiment_method end)::text                                  as sentiment_method,
    (case when rated.rating_label is null then analysis.sentiment_evidence end)::text[] as sentiment_evidence,
    coalesce(analysis.topics, '{}')::text[]                                          as topics,
    analysis.analysis_version::text                                                  as analysis_version,
    greatest(rated.loaded_at, analysis.loaded_at)::timestamptz                       as loaded_at
from rated
left join analysis on analysis.text_hash = rated.text_hash
