-- The sentiment models the enrichment step trained on the company's own rated verbatims (issue
-- #17): one row per model, the current one marked. A model is named by a content hash of its
-- training rows and settings (enrichment/sentiment.py, model_version), so the analysis version
-- that includes it changes exactly when the model does, and every text is scored again once.
-- The row keeps what the model was measured at (per language, on rated text held back from its
-- fit, beside the lexicon's and the policy's figures on the same rows) so an analyst can read why
-- a language is or is not scored by it, and the fitted model itself, written and read only by
-- enrichment/training.py.
create schema if not exists enrichment;
create table if not exists enrichment.sentiment_models (
    model_version            text        primary key,
    trained_at               timestamptz not null default now(),
    -- Rated texts per language the model was fitted on ({"en": 812, ...}).
    training_rows            jsonb       not null,
    -- Accuracy per language on the rows held back from a first fit: the model alone, the lexicon
    -- alone and the policy (lexicon where it found opinion words, the model elsewhere).
    heldout_accuracy         jsonb       not null,
    lexicon_heldout_accuracy jsonb       not null,
    policy_heldout_accuracy  jsonb       not null,
    -- The languages the policy lets the model read: enough rated text, and the policy beat the lexicon.
    model_languages          text[]      not null default '{}',
    -- Rated texts the warehouse held when the model was trained, and the newest loaded_at among
    -- them: the next retraining counts the rated texts loaded after it.
    rated_texts              integer     not null check (rated_texts >= 0),
    rated_loaded_until       timestamptz not null,
    params                   jsonb       not null,
    -- The scikit-learn version that fitted it: another version does not read it back, it retrains.
    library_version          text        not null,
    model                    bytea       not null,
    is_current               boolean     not null default false
);
create unique index if not exists sentiment_models__one_current
    on enrichment.sentiment_models (is_current) where is_current;
