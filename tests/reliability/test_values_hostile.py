"""Every value either lands or is a reject with its reason (issue #15, item 3).

Hostile values — NaN and Infinity, NUL, lone surrogates, numbers too long to store, instants
outside the years Python holds — are rejected one record at a time, naming the value and where
it sits; the rest of the page lands, and no value rolls back its batch.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from expectations.projections import batch_query
from ingest import loader, runner
from ingest.streams import BatchResult, Record, Source, Stream, Window

STREAM = Stream(source="acme", name="things", key=lambda r: r["id"], updated_at=lambda r: r["updated"])
WINDOW = Window(None, datetime(2026, 3, 10, tzinfo=UTC))
AT = "2026-03-01T00:00:00Z"


def land(db, *pages, stream: Stream = STREAM) -> BatchResult:
    with db.transaction():
        return loader.land(db, stream, str(uuid.uuid4()), WINDOW, iter(pages))


def landed(db) -> dict[str, dict]:
    return dict(db.execute("select record_key, record from raw.acme_things").fetchall())


def rejects(db) -> list[tuple[str, str]]:
    return db.execute("select reason, original from raw._rejected order by rejected_id").fetchall()


def adds_up(db, result: BatchResult) -> tuple[int, int, int]:
    """(fetched, landed, rejected) of the batch as the tables hold them, once they agree with each other."""
    fetched, landed_count, rejected = db.execute(
        "select fetched, landed, rejected from audit.load_batches where batch_id = %s", (result.batch_id,)).fetchone()
    (copies,) = db.execute("select coalesce(sum(copies), 0) from raw._rejected where batch_id = %s",
                           (result.batch_id,)).fetchone()
    assert fetched == landed_count + rejected
    assert copies == rejected
    return fetched, landed_count, rejected


def test_nan_and_infinity_read_by_json_loads_are_rejected_naming_the_value_and_its_path(db):
    page = json.loads(f"""[
        {{"id": 1, "updated": "{AT}", "score": 9.5}},
        {{"id": 2, "updated": "{AT}", "score": NaN}},
        {{"id": 3, "updated": "{AT}", "answers": [{{"value": 1}}, {{"value": Infinity}}]}},
        {{"id": 4, "updated": "{AT}", "trend": {{"delta": -Infinity}}}}
    ]""")
    result = land(db, page)
    assert adds_up(db, result) == (4, 1, 3)
    assert landed(db) == {"1": {"id": 1, "updated": AT, "score": 9.5}}
    assert rejects(db) == [
        ("value not storable: NaN at $.score", f'{{"id": 2, "updated": "{AT}", "score": NaN}}'),
        ("value not storable: Infinity at $.answers[1].value",
         f'{{"id": 3, "updated": "{AT}", "answers": [{{"value": 1}}, {{"value": Infinity}}]}}'),
        ("value not storable: -Infinity at $.trend.delta",
         f'{{"id": 4, "updated": "{AT}", "trend": {{"delta": -Infinity}}}}'),
    ]


def test_a_nul_character_in_a_value_a_key_or_a_field_name_is_rejected_naming_where_it_is(db):
    result = land(db, [{"id": 1, "updated": AT, "meta": {"note": "nul\x00here"}},
                       {"id": "7\x00", "updated": AT},
                       {"id": 3, "updated": AT, "bad\x00name": True},
                       {"id": 4, "updated": AT, "note": "fine"}])
    assert adds_up(db, result) == (4, 1, 3)
    assert landed(db) == {"4": {"id": 4, "updated": AT, "note": "fine"}}
    assert rejects(db) == [
        ("value not storable: NUL character at $.meta.note",
         f'{{"id": 1, "updated": "{AT}", "meta": {{"note": "nul\\u0000here"}}}}'),
        ("value not storable: NUL character at $.id", f'{{"id": "7\\u0000", "updated": "{AT}"}}'),
        ('value not storable: NUL character in the field name at $["bad\\u0000name"]',
         f'{{"id": 3, "updated": "{AT}", "bad\\u0000name": true}}'),
    ]


def test_text_that_only_looks_like_a_nul_escape_lands_unchanged_and_is_kept_unchanged_in_a_reject(db):
    looks_like = {"path": "C:\\u0000dir", "doubled": "\\\\u0000", "key\\u0000": "\\u0000"}
    result = land(db, [{"id": "C:\\u0000", "updated": AT, **looks_like}, {"updated": AT, **looks_like}])
    assert adds_up(db, result) == (2, 1, 1)
    assert landed(db) == {"C:\\u0000": {"id": "C:\\u0000", "updated": AT, **looks_like}}
    [(reason, original)] = rejects(db)
    assert reason == "no natural key: missing 'id'"
    assert json.loads(original) == {"updated": AT, **looks_like}


def test_a_lone_surrogate_is_rejected_while_a_proper_pair_lands(db):
    page = [{"id": 1, "updated": AT, "name": "\ud800"},
            {"id": 2, "updated": AT, "name": "x\udc00\ud800y"},
            {"id": 3, "updated": AT, "name": "\U0001f600"},
            *json.loads(f'[{{"id": 4, "updated": "{AT}", "name": "\\ud83d\\ude00"}},'
                        f' {{"id": 5, "updated": "{AT}", "tags": ["ok", "\\udfff"]}}]')]
    result = land(db, page)
    assert adds_up(db, result) == (5, 2, 3)
    assert landed(db) == {"3": {"id": 3, "updated": AT, "name": "\U0001f600"},
                          "4": {"id": 4, "updated": AT, "name": "\U0001f600"}}
    assert rejects(db) == [
        ("value not storable: lone surrogate U+D800 at $.name", f'{{"id": 1, "updated": "{AT}", "name": "\\ud800"}}'),
        ("value not storable: lone surrogate U+DC00 at $.name",
         f'{{"id": 2, "updated": "{AT}", "name": "x\\udc00\\ud800y"}}'),
        ("value not storable: lone surrogate U+DFFF at $.tags[1]",
         f'{{"id": 5, "updated": "{AT}", "tags": ["ok", "\\udfff"]}}'),
    ]


def test_control_characters_other_than_nul_land_as_sent_in_values_and_keys(db):
    controls = "".join(map(chr, range(1, 32))) + "\x7f\x85\u2028\u2029\ufeff"
    result = land(db, [{"id": "a\x0bb\x1b[31m", "updated": AT, "v": controls, controls: "as a field name"}])
    assert adds_up(db, result) == (1, 1, 0)
    assert landed(db) == {"a\x0bb\x1b[31m": {"id": "a\x0bb\x1b[31m", "updated": AT, "v": controls,
                                             controls: "as a field name"}}
    assert db.execute("select record ->> 'v' from raw.acme_things").fetchone() == (controls,)


def test_an_integer_longer_than_python_writes_as_text_is_rejected_not_fatal(db):
    result = land(db, [{"id": 1, "updated": AT, "n": 10**5000}, {"id": 2, "updated": AT, "n": 10**4299}])
    assert adds_up(db, result) == (2, 1, 1)
    assert db.execute("select record_key, length(record ->> 'n') from raw.acme_things").fetchall() == [("2", 4300)]
    [(reason, original)] = rejects(db)
    assert reason == ("value not storable: integer of more than 4300 digits, which Python does not write as text"
                      " at $.n")
    assert original.startswith("<dict that cannot be written as text: Exceeds the limit (4300 digits)")


@pytest.fixture
def integer_digits_unlimited():
    """Python writing integers of any length, as a connector that lifted the limit would have it."""
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    yield
    sys.set_int_max_str_digits(before)


def test_an_integer_longer_than_jsonb_holds_is_rejected_when_python_writes_it(db, integer_digits_unlimited):
    longest, too_long = 10**131072 - 1, 10**131072  # 131072 nines; a one and 131072 zeros
    result = land(db, [{"id": 1, "updated": AT, "n": longest}, {"id": 2, "updated": AT, "n": [too_long]}])
    assert adds_up(db, result) == (2, 1, 1)
    assert db.execute("select record_key, length(record ->> 'n'), record ->> 'n' = repeat('9', 131072) "
                      "from raw.acme_things").fetchall() == [("1", 131072, True)]
    [(reason, original)] = rejects(db)
    assert reason == "value not storable: integer of more than 131072 digits, which jsonb cannot hold at $.n[0]"
    assert original == json.dumps({"id": 2, "updated": AT, "n": [too_long]})


def test_numbers_jsonb_holds_land_with_their_value_however_large_or_small(db):
    numbers = {"long": 10**100 + 1, "int64_min": -(2**63), "float_max": sys.float_info.max,
               "subnormal": 5e-324, "tiny": 1e-300, "tenth": 0.1}
    result = land(db, [{"id": 1, "updated": AT, **numbers}])
    assert adds_up(db, result) == (1, 1, 0)
    record = landed(db)["1"]
    assert (record["long"], record["int64_min"]) == (10**100 + 1, -(2**63))
    assert {name: float(record[name]) for name in ("float_max", "subnormal", "tiny", "tenth")} == {
        "float_max": sys.float_info.max, "subnormal": 5e-324, "tiny": 1e-300, "tenth": 0.1}


def test_instants_outside_the_years_python_holds_are_rejected_and_the_first_and_last_land(db):
    page = [{"id": "year 0", "updated": "0000-01-01T00:00:00Z"},
            {"id": "year 10000", "updated": "10000-01-01T00:00:00Z"},
            {"id": "epoch 1e20", "updated": 1e20},
            {"id": "epoch -1e12", "updated": -1e12},
            {"id": "before year 1 in UTC", "updated": "0001-01-01T00:00:00+01:00"},
            {"id": "after year 9999 in UTC", "updated": "9999-12-31T23:59:59-01:00"},
            {"id": "first", "updated": "0001-01-01T00:00:00Z"},
            {"id": "first, in Unix seconds", "updated": -62135596800},
            {"id": "last", "updated": "9999-12-31T23:59:59.999999Z"}]
    result = land(db, page)
    assert adds_up(db, result) == (9, 3, 6)
    assert [reason for reason, _ in rejects(db)] == [
        "timestamp out of range '0000-01-01T00:00:00Z'",
        "unparseable timestamp '10000-01-01T00:00:00Z'",
        "timestamp out of range 1e+20",
        "timestamp out of range -1000000000000.0",
        "timestamp out of range '0001-01-01T00:00:00+01:00'",
        "timestamp out of range '9999-12-31T23:59:59-01:00'",
    ]
    assert dict(db.execute("select record_key, record_updated_at from raw.acme_things").fetchall()) == {
        "first": datetime(1, 1, 1, tzinfo=UTC), "first, in Unix seconds": datetime(1, 1, 1, tzinfo=UTC),
        "last": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)}


def test_values_the_encoder_refuses_outright_are_rejected_not_fatal(db):
    deep: list = []
    inner = deep
    for _ in range(5000):
        inner.append([])
        inner = inner[0]
    result = land(db, [{"id": 1, "updated": AT, "deep": deep},
                       {"id": 2, "updated": AT, "scores": {(1, 2): 3}},
                       {"id": 3, "updated": AT}])
    assert adds_up(db, result) == (3, 1, 2)
    assert list(landed(db)) == ["3"]
    assert [reason for reason, _ in rejects(db)] == [
        "value not storable: nested too deeply",
        "value not storable: field name of type tuple at $.scores",
    ]


def test_a_record_without_a_key_and_with_an_unstorable_value_is_rejected_for_the_value(db):
    from ingest.typeform import STREAMS

    keyless_nan = json.loads('{"submitted_at": "2026-03-01T10:00:00Z", "_metrics": {"nps": NaN}}')
    result = land(db, [keyless_nan, {"submitted_at": "2026-03-01T10:00:00Z", "_metrics": {"nps": 7}}],
                  stream=STREAMS[0])
    assert adds_up(db, result) == (2, 0, 2)
    assert [reason for reason, _ in rejects(db)] == [
        "value not storable: NaN at $._metrics.nps", "no natural key: missing 'token'"]
    # Rejects for their key hold JSON that jsonb stores: the gate's view of the batch reads them back.
    query = batch_query("typeform_responses", result.batch_id)
    assert db.execute(f"select count(*), count(record_key) from ({query}) as b").fetchone() == (1, 0)


def test_a_hubspot_record_whose_properties_are_not_an_object_is_rejected_not_fatal(db):
    from ingest.hubspot import STREAMS

    contacts = next(s for s in STREAMS if s.name == "contacts")
    result = land(db, [{"id": "1", "properties": "oops"},
                       {"id": "2", "updatedAt": AT, "properties": {}}], stream=contacts)
    assert adds_up(db, result) == (2, 1, 1)
    assert db.execute("select record_key from raw.hubspot_contacts").fetchall() == [("2",)]
    assert rejects(db) == [("no updated-at: unreadable ('str' object has no attribute 'get')",
                            '{"id": "1", "properties": "oops"}')]


class OnePage(Source):
    """A connector serving one page of records, whatever the stream and window."""

    def __init__(self, name: str, streams: tuple[Stream, ...], page: list[Record]) -> None:
        self.name, self.streams, self.page = name, streams, page

    def read(self, stream: Stream, window: Window) -> Iterator[list[Record]]:
        yield list(self.page)


def shaped_for_every_connector(key: str, at) -> Record:
    """A record every catalogued stream can key and date: each connector's field names at once."""
    return {"id": key, "token": key, "_key": key, "updated_at": at, "updatedAt": at, "submitted_at": at,
            "createdAt": at, "created_at": at, "_updated_at": at, "time": at, "schedule_id": key,
            "name": key}


CATALOGUED = [(source, stream) for source in runner.SOURCES for stream in runner.streams_of(source)]


@pytest.mark.parametrize(("source", "stream"), CATALOGUED, ids=[s.table for _, s in CATALOGUED])
def test_every_connectors_stream_lands_the_page_around_its_hostile_records(db, source, stream):
    good = shaped_for_every_connector("good", AT)
    page = [good,
            {**shaped_for_every_connector("nan", AT), "score": float("nan")},
            {**shaped_for_every_connector("nul", AT), "comment": "a\x00b"},
            {**shaped_for_every_connector("surrogate", AT), "name": "\udc80"},
            shaped_for_every_connector("far future", 1e20)]
    interval = Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
    result = runner.run_stream(OnePage(source, runner.streams_of(source), page), stream, interval)
    assert adds_up(db, result) == (5, 1, 4)
    assert db.execute(f'select record_key, record from raw."{stream.table}"').fetchall() == [
        (str(stream.key(good)), good)]
    assert result.rejected_reasons == {
        "value not storable: NaN at $.score": 1,
        "value not storable: NUL character at $.comment": 1,
        "value not storable: lone surrogate U+DC80 at $.name": 1,
        "timestamp out of range 1e+20": 1,
    }
    assert db.execute("select watermark from raw._state where source = %s and stream = %s",
                      (stream.source, stream.name)).fetchone() == (interval.end,)
