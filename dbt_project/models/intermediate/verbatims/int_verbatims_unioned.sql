{#- Every text a customer wrote, one row each, as written: a review's title and its text, every
    open answer of a survey, a ticket's description and the customer's own public comments on it,
    a satisfaction rating's comment, and the free-text columns a file dataset declares (seed
    file_datasets, verbatim_columns). A verbatim
    belongs to the touchpoint it was written in (int_touchpoints_unioned, the one home of
    touchpoint ids and of who the person is); its id is the touchpoint's plus the field.

    `is_rating_comment`: the text is the customer's comment on the touchpoint's rating, so the marts
    may label it with the rating's band. That holds for a review's title and text, a rating's
    comment, and the FIRST open answer of a survey or the first declared column of a file record
    (the "why" that follows a score). Later answers ("what could we do better?") are often negative
    from a promoter too: the marts read them by their text.

    Incremental: a night rebuilds the verbatims of the touchpoints that changed (every text here
    comes from its touchpoint's own record, so a changed text is a changed touchpoint). A verbatim
    that is no longer there, because its touchpoint was deleted at the source or the text was
    emptied, stays with `is_deleted` and the touchpoint's `loaded_at`, so fct_verbatims drops it. -#}
{{ config(
    unique_key='verbatim_id',
    indexes=[
        {'columns': ['verbatim_id'], 'unique': true},
        {'columns': ['touchpoint_id']},
        {'columns': ['loaded_at']},
    ]
) }}

{%- set changed = changed_since_last_build() -%}

with

touchpoints as (
    select * from {{ ref('int_touchpoints_unioned') }}
    where not is_deleted
    {% if is_incremental() %}
    and (
        {{ changed }}
        -- A ticket whose customer commented since: its comments are its verbatims too.
        or touchpoint_id in (
            select 'zendesk:support_ticket:' || ticket_id from {{ ref('stg_zendesk__ticket_comments') }}
            where {{ changed }}
        )
    )
    {% endif %}
),

comments as (
    select * from {{ ref('stg_zendesk__ticket_comments') }}
),

reviews as (
    select * from {{ ref('stg_trustpilot__reviews') }}
),

tickets as (
    select * from {{ ref('stg_zendesk__tickets') }}
),

responses as (
    select * from {{ ref('stg_typeform__responses') }}
),

file_records as (
    select * from {{ ref('stg_files__records') }}
),

file_datasets as (
    select * from {{ ref('file_datasets') }}
),

survey_touchpoints as (

    -- A survey asking NPS and CSAT is a touchpoint per score, but its answers were written once:
    -- they belong to the NPS touchpoint when there is one, else the CSAT one, else the CES one.
    select distinct on (origin_key) *
    from touchpoints
    where source = 'typeform' and origin_stream = 'responses'
    order by origin_key, array_position(array['nps_survey', 'csat_survey', 'ces_survey'], touchpoint_type), touchpoint_id

),

review_texts as (

    select
        touchpoints.touchpoint_id, field.field, field.id_suffix, null::text as question_ref,
        field.verbatim, true as is_rating_comment, null::timestamptz as text_loaded_at
    from touchpoints
    inner join reviews on reviews.review_id = touchpoints.origin_key
    cross join lateral (
        values ('review_title', 'title', reviews.title),
               ('review_text', 'text', reviews.review_text)
    ) as field (field, id_suffix, verbatim)
    where touchpoints.source = 'trustpilot' and touchpoints.origin_stream = 'reviews'

),

support_texts as (

    select
        touchpoints.touchpoint_id, 'ticket_description' as field, 'description' as id_suffix,
        null::text as question_ref, tickets.description as verbatim, false as is_rating_comment,
        null::timestamptz as text_loaded_at
    from touchpoints
    inner join tickets
        -- origin_key is text; the cast keeps the index on ticket_id usable.
        on tickets.ticket_id = case when touchpoints.origin_key ~ '^\d{1,18}$' then touchpoints.origin_key::bigint end
    where touchpoints.source = 'zendesk' and touchpoints.touchpoint_type = 'support_ticket'

    union all

    -- A rating's touchpoint carries its comment, and nothing else, as its verbatim.
    select
        touchpoint_id, 'satisfaction_comment', 'comment', null, verbatim, true, null
    from touchpoints
    where source = 'zendesk' and touchpoint_type = 'support_rating'

    union all

    -- The customer's own public comments on the ticket (the requester's; agents' replies and
    -- internal notes are not the customer's words). Zendesk's first comment repeats the
    -- description, which is a verbatim already.
    select
        touchpoints.touchpoint_id, 'ticket_comment', 'comment:' || comments.comment_id, null,
        comments.body, false, comments.loaded_at
    from touchpoints
    inner join tickets
        on tickets.ticket_id = case when touchpoints.origin_key ~ '^\d{1,18}$' then touchpoints.origin_key::bigint end
    inner join comments
        on comments.ticket_id = tickets.ticket_id
        and comments.is_public
        and comments.author_id = tickets.requester_id
        and comments.body is distinct from tickets.description
    where touchpoints.source = 'zendesk' and touchpoints.touchpoint_type = 'support_ticket'

),

survey_texts as (

    select
        survey_touchpoints.touchpoint_id, 'survey_answer' as field,
        'answer:' || answer.question_ref as id_suffix, answer.question_ref,
        answer.verbatim, answer.answer_number = 1 as is_rating_comment, null::timestamptz as text_loaded_at
    from survey_touchpoints
    inner join responses on responses.response_id = survey_touchpoints.origin_key
    cross join lateral (
        select
            coalesce(answers.item -> 'field' ->> 'ref', answers.item -> 'field' ->> 'id') as question_ref,
            answers.item ->> 'text' as verbatim,
            answers.answer_number
        from jsonb_array_elements(responses.open_answers) with ordinality as answers (item, answer_number)
    ) as answer

),

file_texts as (

    select
        touchpoints.touchpoint_id, 'file_column' as field, 'column:' || declared.column_name as id_suffix,
        declared.column_name as question_ref, file_records.fields ->> declared.column_name as verbatim,
        declared.column_number = 1 as is_rating_comment, null::timestamptz as text_loaded_at
    from touchpoints
    -- A file record is its own identity record: identity_id is its record_id.
    inner join file_records on file_records.record_id = touchpoints.identity_id
    inner join file_datasets on file_datasets.dataset = file_records.dataset
    cross join lateral (
        select btrim(declared_columns.column_name) as column_name, declared_columns.column_number
        from unnest(string_to_array(coalesce(nullif(btrim(file_datasets.verbatim_columns), ''), 'verbatim'), ';'))
            with ordinality as declared_columns (column_name, column_number)
    ) as declared
    where touchpoints.source = 'files'

),

texts as (

    select * from review_texts
    union all
    select * from support_texts
    union all
    select * from survey_texts
    union all
    select * from file_texts

),

live as (

    select
        touchpoints.touchpoint_id || ':' || texts.id_suffix as verbatim_id,
        touchpoints.touchpoint_id,
        touchpoints.source,
        texts.field,
        texts.question_ref,
        texts.verbatim,
        touchpoints.language as source_language,
        texts.is_rating_comment,
        touchpoints.occurred_at,
        touchpoints.identity_source,
        touchpoints.identity_id,
        touchpoints.origin_stream,
        touchpoints.origin_key,
        false as is_deleted,
        -- A comment lands on its own, later than its ticket: the verbatim changed when either did.
        greatest(touchpoints.loaded_at, texts.text_loaded_at) as loaded_at
    from texts
    inner join touchpoints on touchpoints.touchpoint_id = texts.touchpoint_id
    where texts.verbatim is not null and btrim(texts.verbatim) <> ''

)

select * from live
{% if is_incremental() %}
union all
select
    previous.verbatim_id, previous.touchpoint_id, previous.source, previous.field, previous.question_ref,
    previous.verbatim, previous.source_language, previous.is_rating_comment, previous.occurred_at,
    previous.identity_source, previous.identity_id, previous.origin_stream, previous.origin_key,
    true as is_deleted, changed_touchpoints.loaded_at
from {{ this }} as previous
inner join {{ ref('int_touchpoints_unioned') }} as changed_touchpoints
    on changed_touchpoints.touchpoint_id = previous.touchpoint_id
where {{ changed_since_last_build('changed_touchpoints.loaded_at') }}
    and not previous.is_deleted
    and previous.verbatim_id not in (select verbatim_id from live)
{% endif %}
