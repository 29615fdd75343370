"""Rejects are always visible (issue #15, item 4).

A reject belongs to the batch that fetched it: a bad record that a rerun fetches again is a
reject of the rerun's batch too, so every batch's rejects add up to its `rejected` count and
the quality gate judges every batch by its own rejects. The same bad record fetched twice
within one batch is one row, whose `copies` counts both.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from expectations import gate
from ingest import loader, runner, schema
from ingest.streams import BatchResult, Record, Source, Stream, Window
from ingest.typeform import STREAMS as TYPEFORM

STREAM = Stream(source="acme", name="things", key=lambda r: r["id"], updated_at=lambda r: r["updated"])
WINDOW = Window(None, datetime(2026, 3, 10, tzinfo=UTC))
AT, LATER = "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"
SUPERSEDED = "superseded within its batch by a newer version of the same key"


def land(db, *pages, stream: Stream = STREAM) -> BatchResult:
    with db.transaction():
        return loader.land(db, stream, str(uuid.uuid4()), WINDOW, iter(pages))


def rejects_of(db, result: BatchResult) -> list[tuple[str, str, int]]:
    return db.execute("select reason, original, copies from raw._rejected where batch_id = %s order by rejected_id",
                      (result.batch_id,)).fetchall()


def counts(db, result: BatchResult) -> tuple[int, int, int]:
    return db.execute("select fetched, landed, rejected from audit.load_batches where batch_id = %s",
                      (result.batch_id,)).fetchone()


def response(token: str, submitted_at: str = "2026-03-01T10:00:00Z", **metrics) -> dict:
    return {"token": token, "submitted_at": submitted_at, "_form_id": "rNPS2026", "_metrics": metrics}


def critical_failures(db, batch_id: str) -> list[tuple[str, str | None]]:
    return db.execute("select expectation, column_name from audit.validation_failures "
                      "where batch_id = %s and severity = 'critical' order by 1, 2", (batch_id,)).fetchall()


def status(db, batch_id: str) -> str:
    return db.execute("select status from audit.load_batches where batch_id = %s", (batch_id,)).fetchone()[0]


def test_a_bad_record_fetched_again_by_a_rerun_is_a_reject_of_the_rerun_batch_too(db):
    page = [{"id": 1, "updated": AT}, {"updated": AT, "v": "keyless"}]
    first, rerun = land(db, page), land(db, page)
    for batch in (first, rerun):
        assert counts(db, batch) == (2, 1, 1)
        assert rejects_of(db, batch) == [
            ("no natural key: missing 'id'", '{"updated": "2026-03-01T00:00:00Z", "v": "keyless"}', 1)]
    assert db.execute("select count(*) from raw._rejected").fetchone() == (2,)


def test_the_same_bad_record_twice_in_one_batch_is_one_row_counting_both_copies(db):
    keyless, undated = {"updated": AT}, {"id": 2, "updated": "yesterday"}
    result = land(db, [keyless, undated], [{"id": 1, "updated": AT}, keyless])
    assert counts(db, result) == (4, 1, 3)
    assert rejects_of(db, result) == [
        ("no natural key: missing 'id'", '{"updated": "2026-03-01T00:00:00Z"}', 2),
        ("unparseable timestamp 'yesterday'", '{"id": 2, "updated": "yesterday"}', 1),
    ]


def test_a_record_fetched_three_times_in_one_batch_is_one_superseded_row_with_two_copies(db):
    record = {"id": 7, "updated": AT, "v": "same"}
    result = land(db, [record, record], [record, {"id": 8, "updated": AT}])
    assert counts(db, result) == (4, 2, 2)
    assert db.execute("select reason, record_key, original::jsonb, copies from raw._rejected "
                      "where batch_id = %s", (result.batch_id,)).fetchall() == [(SUPERSEDED, "7", record, 2)]
    assert db.execute("select record_key, record from raw.acme_things order by 1").fetchall() == [
        ("7", record), ("8", {"id": 8, "updated": AT})]


def test_the_same_text_rejected_for_different_reasons_is_a_row_per_reason(db):
    # Two versions of key 7 with the same text: one lands, the other is superseded; the keyless
    # record's text differs. A row per (reason, original) in each batch.
    result = land(db, [{"updated": AT}, {"id": 7, "updated": AT}, {"id": 7, "updated": AT}, {"updated": AT}])
    assert counts(db, result) == (4, 1, 3)
    assert [(reason, copies) for reason, _, copies in rejects_of(db, result)] == [
        ("no natural key: missing 'id'", 2), (SUPERSEDED, 1)]


def test_every_batch_adds_up_in_the_tables_through_reruns_changes_and_empty_runs(db):
    night = [{"id": 1, "updated": AT, "v": "a"}, {"id": 2, "updated": AT}, {"id": 2, "updated": LATER},
             {"updated": AT}, {"id": 3, "updated": "not a time"}]
    changed = [{"id": 1, "updated": LATER, "v": "b"}, *night[1:]]
    results = [land(db, night), land(db, night), land(db, changed), land(db), land(db, night[:1], night[3:4])]
    assert [counts(db, result) for result in results] == [
        (5, 2, 3), (5, 2, 3), (5, 2, 3), (0, 0, 0), (2, 1, 1)]
    per_batch = dict(db.execute("select batch_id::text, sum(copies) from raw._rejected group by 1").fetchall())
    assert [per_batch.get(result.batch_id, 0) for result in results] == [3, 3, 3, 0, 1]
    assert db.execute("""select count(*) from audit.load_batches as b
                         where b.fetched <> b.landed + b.rejected
                            or b.rejected <> (select coalesce(sum(copies), 0) from raw._rejected as r
                                              where r.batch_id = b.batch_id)""").fetchone() == (0,)


class OnePage(Source):
    """A connector serving the same page of records for every window: what a rerun fetches again."""

    def __init__(self, page: list[Record]) -> None:
        self.name, self.streams, self.page = "typeform", TYPEFORM, page

    def read(self, stream: Stream, window: Window) -> Iterator[list[Record]]:
        yield list(self.page)


def test_a_rerun_of_an_interval_through_the_runner_records_its_rejects_under_its_own_batch(db):
    source = OnePage([response("kept", nps=9), {"submitted_at": "2026-03-01T10:00:00Z", "_metrics": {"nps": 7}}])
    interval = Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
    first = runner.run_stream(source, TYPEFORM[0], interval)
    rerun = runner.run_stream(source, TYPEFORM[0], interval, backfill=True)
    assert (rerun.fetched, rerun.landed, rerun.rejected, rerun.inserted, rerun.updated) == (2, 1, 1, 0, 0)
    assert db.execute("select batch_id::text, reason, copies from raw._rejected order by rejected_id").fetchall() == [
        (first.batch_id, "no natural key: missing 'token'", 1), (rerun.batch_id, "no natural key: missing 'token'", 1)]


def test_a_rerun_batch_holding_the_same_keyless_record_is_quarantined_like_the_first(db):
    page = [response("ok", nps=9), {"submitted_at": "2026-03-01T10:00:00Z", "_form_id": "rNPS2026",
                                    "_metrics": {"nps": 7}}]
    first, rerun = land(db, page, stream=TYPEFORM[0]), land(db, page, stream=TYPEFORM[0])
    for batch in (first, rerun):
        with pytest.raises(gate.BatchQuarantined, match="expect_column_values_to_not_be_null on record_key"):
            gate.validate_batch(batch.batch_id)
        assert status(db, batch.batch_id) == "quarantined"
        assert critical_failures(db, batch.batch_id) == [("expect_column_values_to_not_be_null", "record_key")]


def test_a_rerun_batch_repeating_a_key_is_quarantined_like_the_first(db):
    # The rerun's newest version is unchanged, so its row in raw keeps the first batch's id.
    page = [response("twice", nps=9), response("twice", "2026-03-02T10:00:00Z", nps=3)]
    first, rerun = land(db, page, stream=TYPEFORM[0]), land(db, page, stream=TYPEFORM[0])
    assert db.execute("select _batch_id::text from raw.typeform_responses").fetchall() == [(first.batch_id,)]
    for batch in (first, rerun):
        with pytest.raises(gate.BatchQuarantined, match="expect_column_values_to_be_unique on record_key"):
            gate.validate_batch(batch.batch_id)
        assert critical_failures(db, batch.batch_id) == [("expect_column_values_to_be_unique", "record_key")]




def test_rejects_recorded_once_for_all_time_are_kept_when_the_warehouse_moves_to_per_batch(empty_database, tmp_path):
    for migration in ("0001_landing.sql", "0002_audit.sql"):
        shutil.copy(schema.MIGRATIONS_DIR / migration, tmp_path / migration)
    wh = empty_database
    with psycopg.connect(host=wh.host, port=wh.port, user=wh.user, dbname=wh.dbname, autocommit=True) as conn:
        assert schema.migrate(conn, tmp_path, raw_tables=()) == ["0001_landing", "0002_audit"]
        old = [(str(uuid.uuid4()), "no natural key: empty", '{"id": ""}'),
               (str(uuid.uuid4()), "no natural key: empty", '{"id": " "}')]
        for batch_id, reason, original in old:
            conn.execute("insert into raw._rejected (source, stream, batch_id, reason, original) "
                         "values ('acme', 'things', %s, %s, %s)", (batch_id, reason, original))
        assert "0003_rejects_per_batch" in schema.migrate(conn)
        assert conn.execute("select batch_id::text, reason, original, copies from raw._rejected "
                            "order by rejected_id").fetchall() == [(*row, 1) for row in old]
        batch_id, reason, original = old[0]
        conn.execute("insert into raw._rejected (source, stream, batch_id, reason, original) "
                     "values ('acme', 'things', gen_random_uuid(), %s, %s)", (reason, original))
        with pytest.raises(psycopg.errors.UniqueViolation, match="_rejected_once_per_batch"):
            conn.execute("insert into raw._rejected (source, stream, batch_id, reason, original) "
                         "values ('acme', 'things', %s, %s, %s)", (batch_id, reason, original))
