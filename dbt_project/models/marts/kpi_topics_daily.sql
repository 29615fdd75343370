{#- Topic mentions per day, topic, source and detected language, with their sentiment: counts
    only, so a week, a quarter or all languages together are sums of rows. A verbatim counts once
    under each topic it mentions; a verbatim with no topic (or not analysed yet) is in no row.

    Replaced day by day like the other daily KPIs (daily_kpi_config: delete+insert on date). The
    days are those of changed touchpoints and also of changed verbatims: a verbatim analysed again
    (a taxonomy edit, a text analysed the night after it landed) changes its topics while its
    touchpoint stays as it was. -#}
{{ daily_kpi_config() }}
{#- A touched day left with no topic at all yields no row to replace its old ones, so those go
    after the insert. Probing each day of this small mart once through fct_verbatims' occurred_at
    index costs days, not verbatims, and needs no second copy of which days were touched. -#}
{{ config(
    post_hook="{% if is_incremental() %}
        delete from {{ this }} where date in (
            select kept.date from (select distinct date from {{ this }}) as kept
            where not exists (
                select from {{ ref('fct_verbatims') }} as verbatims
                where verbatims.occurred_at >= kept.date::timestamp at time zone 'UTC'
                    and verbatims.occurred_at < (kept.date + 1)::timestamp at time zone 'UTC'
                    and cardinality(verbatims.topics) > 0
            )
        )
        {% else %}select 1{% endif %}",
    indexes=[{'columns': ['date']}]
) }}
-- depends_on: {{ ref('int_touchpoints_unioned') }}
-- depends_on: {{ ref('fct_touchpoints') }}

with

{% if is_incremental() %}
touched_days as (

    select distinct (occurred_at at time zone 'UTC')::date as day
    from {{ ref('fct_verbatims') }}
    where {{ changed_since_last_build() }}
    union
    -- A touchpoint whose record changed may have lost one of its verbatims (an emptied answer),
    -- which leaves fct_verbatims without a trace there.
    select distinct (occurred_at at time zone 'UTC')::date
    from {{ ref('fct_touchpoints') }}
    where {{ changed_since_last_build() }}
    union
    -- A day that lost a verbatim with its touchpoint, deleted at the source.
    select distinct (occurred_at at time zone 'UTC')::date
    from ({{ touchpoints_deleted_since_last_build('occurred_at') }}) as deleted

),
{% endif %}

mentions as (

    select
        (verbatims.occurred_at at time zone 'UTC')::date    as mention_date,
        mentioned.topic,
        verbatims.source,
        -- 'und' (undetermined, ISO 639): no letters to tell, as kpi_reviews_daily spells it.
        coalesce(verbatims.detected_language, 'und')        as language,
        verbatims.sentiment_label
    from {{ ref('fct_verbatims') }} as verbatims
    {%- if is_incremental() %}
    inner join touched_days
        on verbatims.occurred_at >= touched_days.day::timestamp at time zone 'UTC'
        and verbatims.occurred_at < (touched_days.day + 1)::timestamp at time zone 'UTC'
    {%- endif %}
    cross join lateral unnest(verbatims.topics) as mentioned (topic)

),

counted as (

    select
        mention_date                                                as date,
        topic,
        source,
        language,
        count(*)                                                    as mentions,
        count(*) filter (where sentiment_label = 'positive')        as positive,
        count(*) filter (where sentiment_label = 'negative')        as negative,
        count(*) filter (where sentiment_label = 'neutral')         as neutral
    from mentions
    group by 1, 2, 3, 4

)

select
    date,
    topic::text     as topic,
    source::text    as source,
    language::text  as language,
    mentions::integer   as mentions,
    positive::integer   as positive,
    negative::integer   as negative,
    neutral::integer    as neutral
from counted
