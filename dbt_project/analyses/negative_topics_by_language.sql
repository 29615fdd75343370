-- The three topics customers were most often negative about, per language they wrote in
-- (fct_verbatims: a rated verbatim's sentiment is its rating's, an unrated one's its text's).
with

mentions as (
    select
        verbatims.detected_language as language,
        mentioned.topic,
        count(*) as negative_mentions
    from {{ ref('fct_verbatims') }} as verbatims
    cross join lateral unnest(verbatims.topics) as mentioned (topic)
    where verbatims.sentiment_label = 'negative' and verbatims.detected_language is not null
    group by verbatims.detected_language, mentioned.topic
),

ranked as (
    select
        language,
        topic,
        negative_mentions,
        row_number() over (partition by language order by negative_mentions desc, topic) as position
    from mentions
)

select language, topic, negative_mentions
from ranked
where position <= 3
order by language, position
