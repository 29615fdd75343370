-- Rejects are recorded per batch (issue #15). `_rejected_once` kept one row per bad record for
-- all time, so a rerun that fetched the same bad record again counted it in its `rejected` but
-- left no row for its batch: the batch's rejects did not add up, and the quality gate, which
-- reads a batch's rows plus its rejects, passed a rerun batch that still held a keyless record.
--
-- Now a reject belongs to the batch that fetched it: a row per batch and distinct bad record
-- (same reason, same original text). A row per batch rather than a link table or a counter on
-- the first row: the gate and anyone auditing a batch read its rejects with one `where batch_id`,
-- and a bad record that keeps coming back shows in every batch it came back in. The same bad
-- record fetched twice within one batch (a page served twice, a record repeated in an export)
-- stays one row, as before, and `copies` says how many times it was fetched, so for every batch
-- audit.load_batches.rejected = sum(copies) of its rows in raw._rejected.
--
-- Rows written before this migration keep copies = 1: a copy the old index dropped (within a
-- batch or in a rerun) is not recorded anywhere and cannot be recounted.
alter table raw._rejected add column if not exists copies integer not null default 1 check (copies > 0);
drop index if exists raw._rejected_once;
-- Unique where the old index was (no two rows share batch, reason and original: a batch has one
-- source and stream), so existing rows satisfy it; and it indexes the gate's lookup by batch.
create unique index if not exists _rejected_once_per_batch
    on raw._rejected (batch_id, reason, md5(original));
