"""Landing pages of records into raw: upsert by key, newest wins, nothing lost."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from ingest import loader
from ingest.streams import Stream, Window, tombstone

STREAM = Stream(source="acme", name="things", key=lambda r: r["id"], updated_at=lambda r: r["updated"])
WINDOW = Window(None, datetime(2026, 3, 10, tzinfo=UTC))


def land(db, *pages):
    with db.transaction():
        return loader.land(db, STREAM, str(uuid.uuid4()), WINDOW, iter(pages))


def raw_rows(db):
    return db.execute("select record_key, record->>'v' from raw.acme_things order by 1").fetchall()


def rejects(db):
    return db.execute("select reason, original from raw._rejected order by rejected_id").fetchall()


def test_records_land_once_per_key_with_their_json(db):
    result = land(db, [{"id": 1, "updated": "2026-03-01T00:00:00Z", "v": "a"}],
                  [{"id": 2, "updated": 1772323200, "v": "b"}])
    assert (result.fetched, result.landed, result.rejected, result.inserted, result.updated) == (2, 2, 0, 2, 0)
    assert raw_rows(db) == [("1", "a"), ("2", "b")]


def test_a_newer_version_replaces_the_row_and_an_older_one_does_not(db):
    land(db, [{"id": 1, "updated": "2026-03-02T00:00:00Z", "v": "v2"}])
    older = land(db, [{"id": 1, "updated": "2026-03-01T00:00:00Z", "v": "v1"}])
    assert (older.inserted, older.updated) == (0, 0)
    newer = land(db, [{"id": 1, "updated": "2026-03-03T00:00:00Z", "v": "v3"}])
    assert (newer.inserted, newer.updated) == (0, 1)
    assert raw_rows(db) == [("1", "v3")]


def test_landing_the_same_records_again_changes_nothing(db):
    page = [{"id": i, "updated": "2026-03-01T00:00:00Z", "v": str(i)} for i in range(5)]
    land(db, page)
    again = land(db, page)
    assert (again.fetched, again.landed, again.inserted, again.updated) == (5, 5, 0, 0)
    assert len(raw_rows(db)) == 5


def test_a_deletion_replaces_the_record_with_its_tombstone_and_is_counted_in_the_batch(db):
    land(db, [{"id": 1, "updated": "2026-03-01T00:00:00Z", "v": "personal"},
              {"id": 2, "updated": "2026-03-01T00:00:00Z", "v": "kept"}])
    deletion = land(db, [tombstone({"id": 1}, "2026-03-05T08:00:00Z"), tombstone({"id": 3}, "2026-03-05T09:00:00Z")])
    assert (deletion.landed, deletion.inserted, deletion.updated, deletion.deleted) == (2, 1, 1, 2)
    assert db.execute("select record_key, record, record_updated_at from raw.acme_things order by 1").fetchall() == [
        ("1", {"id": 1, "_deleted_at": "2026-03-05T08:00:00Z"}, datetime(2026, 3, 5, 8, tzinfo=UTC)),
        ("2", {"id": 2, "updated": "2026-03-01T00:00:00Z", "v": "kept"}, datetime(2026, 3, 1, tzinfo=UTC)),
        ("3", {"id": 3, "_deleted_at": "2026-03-05T09:00:00Z"}, datetime(2026, 3, 5, 9, tzinfo=UTC)),
    ]
    assert db.execute("select deleted from audit.load_batches where batch_id = %s",
                      (deletion.batch_id,)).fetchone() == (2,)


def test_a_record_restored_after_its_deletion_replaces_the_tombstone_and_a_stale_one_does_not(db):
    land(db, [tombstone({"id": 1}, "2026-03-05T08:00:00Z")])
    stale = land(db, [{"id": 1, "updated": "2026-03-01T00:00:00Z", "v": "before deletion"}])
    assert (stale.inserted, stale.updated, stale.deleted) == (0, 0, 0)
    restored = land(db, [{"id": 1, "updated": "2026-03-06T00:00:00Z", "v": "restored"}])
    assert (restored.updated, restored.deleted) == (1, 0)
    assert raw_rows(db) == [("1", "restored")]


def test_a_record_without_a_key_is_rejected_with_its_reason_while_the_page_lands(db):
    result = land(db, [{"id": 1, "updated": "2026-03-01T00:00:00Z", "v": "ok"},
                       {"updated": "2026-03-01T00:00:00Z", "v": "no key"},
                       {"id": "", "updated": "2026-03-01T00:00:00Z"}])
    assert (result.fetched, result.landed, result.rejected) == (3, 1, 2)
    assert raw_rows(db) == [("1", "ok")]
    assert [reason for reason, _ in rejects(db)] == ["no natural key: missing 'id'", "no natural key: empty"]
    assert '"v": "no key"' in rejects(db)[0][1]


def test_unparseable_timestamps_nul_characters_and_non_objects_are_rejected(db):
    result = land(db, [{"id": 1, "updated": "yesterday"},
                       {"id": 2, "updated": "2026-03-01T00:00:00Z", "v": "nul\x00here"},
                       ["not", "an", "object"]])
    assert (result.landed, result.rejected) == (0, 3)
    assert [reason for reason, _ in rejects(db)] == [
        "unparseable timestamp 'yesterday'",
        "value not storable: NUL character at $.v",
        "not a JSON object but list",
    ]


def test_a_key_repeated_in_one_batch_lands_its_newest_version_and_rejects_the_rest(db):
    result = land(db, [{"id": 7, "updated": "2026-03-01T00:00:00Z", "v": "old"},
                       {"id": 7, "updated": "2026-03-03T00:00:00Z", "v": "new"}],
                  [{"id": 7, "updated": "2026-03-02T00:00:00Z", "v": "mid"}])
    assert (result.fetched, result.landed, result.rejected) == (3, 1, 2)
    assert result.fetched == result.landed + result.rejected
    assert raw_rows(db) == [("7", "new")]
    assert {reason for reason, _ in rejects(db)} == {
        "superseded within its batch by a newer version of the same key"}


def test_a_bad_record_fetched_again_is_a_reject_of_each_batch_but_once_within_one(db):
    bad = {"id": None, "updated": "2026-03-01T00:00:00Z"}
    first = land(db, [bad, bad])
    second = land(db, [bad])
    assert (first.rejected, second.rejected) == (2, 1)
    assert db.execute("select batch_id::text, copies from raw._rejected order by rejected_id").fetchall() == [
        (first.batch_id, 2), (second.batch_id, 1)]


def test_each_batch_is_recorded_with_its_counts(db):
    result = land(db, [{"id": 1, "updated": "2026-03-01T00:00:00Z"}, {"updated": "2026-03-01T00:00:00Z"}])
    row = db.execute("select source, stream, fetched, landed, rejected, inserted, status "
                     "from audit.load_batches where batch_id = %s", (result.batch_id,)).fetchone()
    assert row == ("acme", "things", 2, 1, 1, 1, "landed")


def batch_ids(db):
    return dict(db.execute("select record_key, _batch_id::text from raw.acme_things").fetchall())


def test_reloading_with_a_few_records_changed_rewrites_only_those(db):
    first = land(db, [{"id": i, "updated": "2026-03-01T00:00:00Z", "v": "old"} for i in range(5)])
    changed = {1, 3}
    again = land(db, [{"id": i, "updated": "2026-03-02T00:00:00Z" if i in changed else "2026-03-01T00:00:00Z",
                       "v": "new" if i in changed else "old"} for i in range(5)])
    assert (again.fetched, again.landed, again.rejected, again.inserted, again.updated) == (5, 5, 0, 0, 2)
    assert raw_rows(db) == [("0", "old"), ("1", "new"), ("2", "old"), ("3", "new"), ("4", "old")]
    assert batch_ids(db) == {"0": first.batch_id, "1": again.batch_id, "2": first.batch_id,
                             "3": again.batch_id, "4": first.batch_id}


def test_keys_and_values_with_tabs_line_breaks_backslashes_and_accents_land_as_sent(db):
    key, value = "a\tb\\c\nd\re", 'x\\y\t"z"\r\n ünïcødé 日本 \\N'
    land(db, [{"id": key, "updated": "2026-03-01T00:00:00Z", "v": value}])
    assert raw_rows(db) == [(key, value)]


def test_updated_at_keeps_its_instant_whatever_its_form(db):
    land(db, [{"id": "iso", "updated": "2026-03-01T02:00:00.250000+02:00"},
              {"id": "unix", "updated": 1772323200.5},
              {"id": "naive", "updated": "2026-03-01T00:00:00"}])
    stored = dict(db.execute("select record_key, record_updated_at from raw.acme_things").fetchall())
    assert stored == {"iso": datetime(2026, 3, 1, 0, 0, 0, 250000, tzinfo=UTC),
                      "unix": datetime(2026, 3, 1, 0, 0, 0, 500000, tzinfo=UTC),
                      "naive": datetime(2026, 3, 1, tzinfo=UTC)}


def test_a_rejected_record_keeps_its_tabs_line_breaks_and_backslashes_in_reason_and_original(db):
    record = {"id": 1, "updated": "1 March\t2026\n", "note": "tab\there\\"}
    land(db, [record])
    assert rejects(db) == [("unparseable timestamp '1 March\\t2026\\n'",
                            '{"id": 1, "updated": "1 March\\t2026\\n", "note": "tab\\there\\\\"}')]


def test_versions_of_a_repeated_key_older_than_the_landed_row_change_nothing_but_are_still_superseded(db):
    land(db, [{"id": 7, "updated": "2026-03-03T00:00:00Z", "v": "landed"}])
    result = land(db, [{"id": 7, "updated": "2026-03-01T00:00:00Z", "v": "old"},
                       {"id": 7, "updated": "2026-03-02T00:00:00Z", "v": "mid"}])
    assert (result.fetched, result.landed, result.rejected, result.inserted, result.updated) == (2, 1, 1, 0, 0)
    assert raw_rows(db) == [("7", "landed")]
    assert [json.loads(original) for _, original in rejects(db)] == [
        {"id": 7, "updated": "2026-03-01T00:00:00Z", "v": "old"}]


def test_an_empty_batch_is_recorded_with_zero_counts(db):
    result = land(db)
    row = db.execute("select fetched, landed, rejected, inserted, updated from audit.load_batches "
                     "where batch_id = %s", (result.batch_id,)).fetchone()
    assert row == (0, 0, 0, 0, 0)
    assert raw_rows(db) == []
