-- The warehouse's schemas and what landing keeps beside the raw tables: cursors, rejects,
-- batches, the file ledger. Written with `if not exists` so that a warehouse set up before
-- migrations existed is brought to the same state instead of failing.
create schema if not exists raw;
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;
create schema if not exists audit;

-- Per-stream cursors; they move in the same transaction as the data they describe.
create table if not exists raw._state (
    source      text        not null,
    stream      text        not null,
    watermark   timestamptz not null,
    updated_at  timestamptz not null default now(),
    primary key (source, stream)
);

create table if not exists raw._rejected (
    rejected_id  bigint generated always as identity primary key,
    source       text        not null,
    stream       text        not null,
    batch_id     uuid        not null,
    reason       text        not null,
    original     text        not null,
    rejected_at  timestamptz not null default now()
);
-- The natural key when the record had one (a superseded version): the gate checks it.
alter table raw._rejected add column if not exists record_key text;
-- The same bad record fetched again by a rerun is the same reject, not a new one.
create unique index if not exists _rejected_once
    on raw._rejected (source, stream, reason, md5(original));

create table if not exists audit.load_batches (
    batch_id      uuid primary key,
    source        text        not null,
    stream        text        not null,
    window_start  timestamptz,
    window_end    timestamptz not null,
    fetched       integer     not null,
    landed        integer     not null,
    rejected      integer     not null,
    inserted      integer     not null,
    updated       integer     not null,
    loaded_at     timestamptz not null default now(),
    -- landed -> passed | warned | quarantined (by the quality gate) -> released
    status        text        not null default 'landed'
);

-- The files connector's ledger: a file (by content) lands once.
create table if not exists raw._files_loaded (
    sha256     text primary key,
    path       text        not null,
    dataset    text        not null,
    rows       integer     not null,
    batch_id   uuid        not null,
    loaded_at  timestamptz not null default now()
);
