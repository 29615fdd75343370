-- Discovered topics (issue #17): per language, the term clusters enrichment/discover.py found in
-- the verbatims of one window, for an analyst to read and, when a cluster is a topic the taxonomy
-- lacks, to promote into dbt_project/seeds/topic_taxonomy.csv. A rerun for the same window
-- replaces that window's rows, so the window is the key; a cluster is named by its rank within
-- its language (1 = the most verbatims), since its terms change from one window to the next.
create schema if not exists enrichment;
create table if not exists enrichment.discovered_topics (
    window_start      timestamptz   not null,
    window_end        timestamptz   not null,
    language          text          not null,
    cluster_rank      integer       not null check (cluster_rank >= 1),
    top_terms         text[]        not null,
    -- The taxonomy topics the top terms already find: an empty array is what is new.
    taxonomy_topics   text[]        not null default '{}',
    example_texts     text[]        not null,
    verbatims         integer       not null check (verbatims > 0),
    -- The language's texts that were clustered (the most recent, up to a cap): share = verbatims / this.
    sampled_verbatims integer       not null check (sampled_verbatims >= verbatims),
    share             numeric(5, 4) not null check (share > 0 and share <= 1),
    method_version    text          not null,
    analysis_version  text          not null,
    taxonomy_version  text          not null,
    discovered_at     timestamptz   not null default now(),
    primary key (window_start, window_end, language, cluster_rank),
    check (window_start < window_end)
);
