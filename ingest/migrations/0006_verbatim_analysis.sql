-- What enrichment/ found in each verbatim (issue #17): written by the enrichment step between the
-- intermediate models and the marts, read by dbt as a source. Keyed by the text's hash and the
-- analysis version (detector, lexicon, model and taxonomy), so a text is analysed once per
-- version, however many touchpoints carry it and however many nights pass.
create schema if not exists enrichment;
create table if not exists enrichment.verbatim_analysis (
    text_hash          text        not null,
    analysis_version   text        not null,
    detected_language  text,
    sentiment_score    numeric(4, 3) not null check (sentiment_score between -1 and 1),
    sentiment_label    text        not null check (sentiment_label in ('positive', 'neutral', 'negative')),
    sentiment_method   text        not null,
    sentiment_evidence text[]      not null default '{}',
    topics             text[]      not null default '{}',
    analysed_at        timestamptz not null default now(),
    primary key (text_hash, analysis_version)
);
create index if not exists verbatim_analysis__analysed_at on enrichment.verbatim_analysis (analysed_at);
