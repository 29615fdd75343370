-- Deletion as a fact (issue #16): a record deleted at the source lands as a tombstone
-- (ingest/streams.py, DELETED_AT) and each batch says how many of its landed records were
-- deletions. Earlier batches landed none.
alter table audit.load_batches add column if not exists deleted integer not null default 0;
