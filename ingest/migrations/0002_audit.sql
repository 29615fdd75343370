-- What failed and what the quality gate found, for the data-health dashboard. Exists before
-- anything has failed or been validated, so the dashboard never reads a missing table.
create table if not exists audit.pipeline_failures (
    failure_id   bigint generated always as identity primary key,
    dag_id       text        not null,
    task_id      text        not null,
    map_index    integer     not null default -1,
    run_id       text        not null,
    logical_date timestamptz,
    try_number   integer,
    source       text,
    stream       text,
    error        text        not null,
    failed_at    timestamptz not null default now()
);

create table if not exists audit.validation_runs (
    validation_id   uuid primary key,
    batch_id        uuid,  -- null for a mart suite: it checks a table, not a batch
    suite           text        not null,
    success         boolean     not null,
    evaluated       integer     not null,
    failed_critical integer     not null,
    failed_warning  integer     not null,
    rows_validated  integer     not null,
    outcome         text        not null,  -- passed | warned | quarantined | released | failed (marts)
    evaluated_at    timestamptz not null default now()
);
-- Warehouses from before mart suites had the column not null.
alter table audit.validation_runs alter column batch_id drop not null;

create table if not exists audit.validation_failures (
    validation_id    uuid        not null references audit.validation_runs,
    batch_id         uuid,
    suite            text        not null,
    expectation      text        not null,
    column_name      text,
    severity         text        not null,
    observed_value   text,
    unexpected_count bigint,
    sample           jsonb,
    evaluated_at     timestamptz not null default now()
);
alter table audit.validation_failures alter column batch_id drop not null;
