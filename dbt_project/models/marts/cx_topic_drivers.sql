{#- What each topic does to NPS and CSAT, per month: the survey answers whose verbatims mention
    the topic, their score, the month's score with and without them, and the difference, the
    topic's impact in points (month's score − score without the topic's answers). "Billing cost us
    6 NPS points in November" is the November billing row with nps_impact = -6.

    An answer mentions a topic when any verbatim of its touchpoint does; an answer counts once per
    topic however many of its verbatims name it. A month has a row for each topic that at least
    one of its NPS or CSAT answers mentions.

    A table, rebuilt each night: every figure of a month moves when any answer of that month
    changes (its own topic's counts and every other topic's "without" figures), so an incremental
    build would recompute whole months anyway, and the input is the survey answers and their
    verbatims, a small part of the touchpoints, read once. -#}

with

nps_answers as (

    select
        touchpoint_id,
        date_trunc('month', occurred_at at time zone 'UTC')::date  as month,
        {{ nps_category('sentiment') }}                             as nps_category
    from {{ ref('fct_touchpoints') }}
    where touchpoint_type = 'nps_survey'

),

csat_ratings as (

    select
        touchpoint_id,
        date_trunc('month', occurred_at at time zone 'UTC')::date  as month,
        -- The ratings kpi_csat_daily counts: top two boxes of 1–5; for Zendesk's good/bad, good.
        sentiment = 'positive'                                      as is_satisfied
    from {{ ref('fct_touchpoints') }}
    where touchpoint_type in ('csat_survey', 'support_rating')

),

mentions as (

    -- Distinct: a touchpoint with several verbatims naming one topic is one answer mentioning it.
    select distinct
        verbatims.touchpoint_id,
        mentioned.topic
    from {{ ref('fct_verbatims') }} as verbatims
    cross join lateral unnest(verbatims.topics) as mentioned (topic)

),

nps_by_month as (

    select
        month,
        count(*)                                            as responses,
        count(*) filter (where nps_category = 'promoter')   as promoters,
        count(*) filter (where nps_category = 'passive')    as passives,
        count(*) filter (where nps_category = 'detractor')  as detractors
    from nps_answers
    group by 1

),

nps_by_topic as (

    select
        nps_answers.month,
        mentions.topic,
        count(*)                                                        as responses,
        count(*) filter (where nps_answers.nps_category = 'promoter')   as promoters,
        count(*) filter (where nps_answers.nps_category = 'passive')    as passives,
        count(*) filter (where nps_answers.nps_category = 'detractor')  as detractors
    from nps_answers
    inner join mentions on mentions.touchpoint_id = nps_answers.touchpoint_id
    group by 1, 2

),

csat_by_month as (

    select
        month,
        count(*)                                    as ratings,
        count(*) filter (where is_satisfied)        as satisfied
    from csat_ratings
    group by 1

),

csat_by_topic as (

    select
        csat_ratings.month,
        mentions.topic,
        count(*)                                            as ratings,
        count(*) filter (where csat_ratings.is_satisfied)   as satisfied
    from csat_ratings
    inner join mentions on mentions.touchpoint_id = csat_ratings.touchpoint_id
    group by 1, 2

),

topic_months as (

    select month, topic from nps_by_topic
    union
    select month, topic from csat_by_topic

),

counted as (

    select
        topic_months.month,
        topic_months.topic,
        coalesce(nps_by_topic.responses, 0)     as nps_responses,
        coalesce(nps_by_topic.promoters, 0)     as promoters,
        coalesce(nps_by_topic.passives, 0)      as passives,
        coalesce(nps_by_topic.detractors, 0)    as detractors,
        coalesce(nps_by_month.responses, 0)     as month_nps_responses,
        coalesce(nps_by_month.promoters, 0)     as month_promoters,
        coalesce(nps_by_month.passives, 0)      as month_passives,
        coalesce(nps_by_month.detractors, 0)    as month_detractors,
        coalesce(csat_by_topic.ratings, 0)      as csat_ratings,
        coalesce(csat_by_topic.satisfied, 0)    as satisfied,
        coalesce(csat_by_month.ratings, 0)      as month_csat_ratings,
        coalesce(csat_by_month.satisfied, 0)    as month_satisfied
    from topic_months
    left join nps_by_topic
        on nps_by_topic.month = topic_months.month and nps_by_topic.topic = topic_months.topic
    left join csat_by_topic
        on csat_by_topic.month = topic_months.month and csat_by_topic.topic = topic_months.topic
    left join nps_by_month on nps_by_month.month = topic_months.month
    left join csat_by_month on csat_by_month.month = topic_months.month

),

scored as (

    select
        counted.*,
        {{ nps('promoters', 'detractors', 'nps_responses') }}                   as nps,
        {{ nps('month_promoters', 'month_detractors', 'month_nps_responses') }} as month_nps,
        {{ nps('(month_promoters - promoters)', '(month_detractors - detractors)',
               '(month_nps_responses - nps_responses)') }}                      as nps_without_topic,
        {{ csat_pct('satisfied', 'csat_ratings') }}                             as csat_pct,
        {{ csat_pct('month_satisfied', 'month_csat_ratings') }}                 as month_csat_pct,
        {{ csat_pct('(month_satisfied - satisfied)', '(month_csat_ratings - csat_ratings)') }}
                                                                                as csat_pct_without_topic
    from counted

)

select
    month,
    topic::text                                             as topic,
    nps_responses::integer                                  as nps_responses,
    promoters::integer                                      as promoters,
    passives::integer                                       as passives,
    detractors::integer                                     as detractors,
    nps::numeric(6, 2)                                      as nps,
    month_nps_responses::integer                            as month_nps_responses,
    month_promoters::integer                                as month_promoters,
    month_passives::integer                                 as month_passives,
    month_detractors::integer                               as month_detractors,
    month_nps::numeric(6, 2)                                as month_nps,
    nps_without_topic::numeric(6, 2)                        as nps_without_topic,
    -- From the two rounded figures, so that the row adds up exactly as a reader checks it.
    (month_nps - nps_without_topic)::numeric(6, 2)          as nps_impact,
    csat_ratings::integer                                   as csat_ratings,
    satisfied::integer                                      as satisfied,
    csat_pct::numeric(5, 2)                                 as csat_pct,
    month_csat_ratings::integer                             as month_csat_ratings,
    month_satisfied::integer                                as month_satisfied,
    month_csat_pct::numeric(5, 2)                           as month_csat_pct,
    csat_pct_without_topic::numeric(5, 2)                   as csat_pct_without_topic,
    (month_csat_pct - csat_pct_without_topic)::numeric(6, 2) as csat_impact
from scored
