"""The quality gate on Typeform batches: what passes, what is quarantined, and what staging sees."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from expectations import definitions, gate
from expectations.validation import load_suite
from ingest import loader, warehouse
from ingest.typeform import STREAMS

STREAM = STREAMS[0]


def response(token: str, submitted_at: str = "2026-03-01T10:00:00Z", **metrics) -> dict:
    return {"token": token, "submitted_at": submitted_at, "_form_id": "rNPS2026", "_metrics": metrics}


def land(db, records: list[dict]) -> str:
    batch_id = str(uuid.uuid4())
    with db.transaction():
        loader.land(db, STREAM, batch_id, _window(), iter([records]))
    return batch_id


def _window():
    from ingest.streams import Window

    return Window(None, datetime(2026, 3, 10, tzinfo=UTC))


def status(db, batch_id: str) -> str:
    return db.execute("select status from audit.load_batches where batch_id = %s", (batch_id,)).fetchone()[0]


def test_the_committed_suite_files_match_their_definitions():
    for name in definitions.SUITES:
        assert (definitions.SUITES_DIR / f"{name}.json").read_text() == definitions.suite_json(name), (
            f"{name}.json is stale: run `python -m expectations write-suites`")


def test_a_clean_batch_passes_and_is_recorded(db):
    batch = land(db, [response("a", nps=10, email="ann@example.com"), response("b", csat=4, ces=6)])
    validation = gate.validate_batch(batch)
    assert validation.outcome == "passed"
    assert status(db, batch) == "passed"
    assert db.execute("select suite, success, rows_validated, outcome from audit.validation_runs").fetchall() == [
        ("typeform_responses", True, 2, "passed")]


@pytest.mark.parametrize(("record", "expectation", "column"), [
    (response("x", nps=11), "expect_column_values_to_be_between", "nps"),
    (response("x", nps="ten"), "expect_column_values_to_be_in_set", "nps_type"),
    (response("x", csat=0), "expect_column_values_to_be_between", "csat"),
    (response("x", ces=8), "expect_column_values_to_be_between", "ces"),
    (response("x", submitted_at="2999-01-01T00:00:00Z"),
     "unexpected_rows_expectation (submitted_at_ts is not in the future)", None),
])
def test_a_critical_failure_quarantines_the_batch_naming_the_expectation(db, record, expectation, column):
    batch = land(db, [response("ok", nps=9), record])
    with pytest.raises(gate.BatchQuarantined, match="quarantined") as caught:
        gate.validate_batch(batch)
    assert expectation in str(caught.value)
    assert status(db, batch) == "quarantined"
    assert db.execute("select expectation, column_name, severity, unexpected_count "
                      "from audit.validation_failures").fetchall() == [(expectation, column, "critical", 1)]


def test_one_mistyped_email_among_many_is_a_warning_and_the_batch_goes_on(db):
    records = [response(f"r{n}", nps=9, email=f"person{n}@example.com") for n in range(9)]
    batch = land(db, [*records, response("typo", nps=9, email="not-an-email")])
    validation = gate.validate_batch(batch)
    assert validation.outcome == "warned"
    assert [(f.expectation, f.column, f.sample) for f in validation.warnings] == [
        ("expect_column_values_to_match_regex", "email", ["not-an-email"])]
    assert status(db, batch) == "warned"


def test_a_batch_whose_emails_are_mostly_invalid_is_quarantined_as_a_broken_export(db):
    records = [response(f"r{n}", nps=9, email=f"person{n}-at-example.com") for n in range(8)]
    batch = land(db, [*records, response("ok", nps=9, email="ok@example.com")])
    with pytest.raises(gate.BatchQuarantined, match="expect_column_values_to_match_regex on email: observed 8"):
        gate.validate_batch(batch)
    assert status(db, batch) == "quarantined"
    assert db.execute("select severity, unexpected_count from audit.validation_failures "
                      "order by severity").fetchall() == [("critical", 8), ("warning", 8)]


def test_a_quarantined_batch_stays_in_raw_but_never_reaches_staging(db):
    good = land(db, [response("good", nps=9)])
    bad = land(db, [response("bad", nps=42)])
    gate.validate_batch(good)
    with pytest.raises(gate.BatchQuarantined):
        gate.validate_batch(bad)
    warehouse.run_dbt(["build", "--select", "stg_typeform__responses"])
    assert db.execute("select count(*) from raw.typeform_responses").fetchone() == (2,)
    assert db.execute("select response_id from staging.stg_typeform__responses").fetchall() == [("good",)]


def test_every_stream_of_every_source_has_a_suite_whose_projection_runs(db):
    from ingest import runner

    for source in runner.SOURCES:
        for stream in runner.streams_of(source):
            validation = gate.run_suite(stream.table, str(uuid.uuid4()))
            assert validation.rows == 0
            assert validation.failures == [], (stream.table, [f.describe() for f in validation.failures])
            assert validation.evaluated == len(definitions.SUITES[stream.table]().expectations)


def test_a_suite_file_with_an_unknown_expectation_type_is_refused(tmp_path, monkeypatch):
    suite = json.loads((definitions.SUITES_DIR / "typeform_responses.json").read_text())
    suite["expectations"][0]["type"] = "expect_column_values_to_not_be_nul"
    (tmp_path / "typeform_responses.json").write_text(json.dumps(suite))
    monkeypatch.setattr("expectations.validation.SUITES_DIR", tmp_path)
    with pytest.raises(ValueError, match="expect_column_values_to_not_be_nul"):
        load_suite("typeform_responses")


def test_a_fixed_quarantined_batch_is_released_by_the_command_and_reaches_staging(db):
    from expectations.__main__ import main

    bad = land(db, [response("late", nps=12)])
    assert main(["validate", bad]) == 1
    db.execute("update raw.typeform_responses set record = jsonb_set(record, '{_metrics,nps}', '10')")
    assert main(["release", bad]) == 0
    assert status(db, bad) == "released"
    assert db.execute("select outcome from audit.validation_runs order by evaluated_at").fetchall() == [
        ("quarantined",), ("released",)]
    warehouse.run_dbt(["build", "--select", "stg_typeform__responses"])
    assert db.execute("select response_id, nps_score from staging.stg_typeform__responses").fetchall() == [
        ("late", 10)]


def failed_expectations(db) -> list[tuple[str, str | None]]:
    return db.execute("select expectation, column_name from audit.validation_failures "
                      "where severity = 'critical' order by 1, 2").fetchall()


def test_a_record_without_a_key_quarantines_its_batch_though_the_loader_kept_it_out_of_raw(db):
    keyless = {"submitted_at": "2026-03-01T10:00:00Z", "_form_id": "rNPS2026", "_metrics": {"nps": 7}}
    batch = land(db, [response("ok", nps=9), keyless])
    with pytest.raises(gate.BatchQuarantined):
        gate.validate_batch(batch)
    assert failed_expectations(db) == [("expect_column_values_to_not_be_null", "record_key")]


def test_a_key_repeated_within_a_batch_quarantines_it_naming_uniqueness(db):
    batch = land(db, [response("twice", nps=9), response("twice", "2026-03-02T10:00:00Z", nps=3)])
    with pytest.raises(gate.BatchQuarantined):
        gate.validate_batch(batch)
    assert failed_expectations(db) == [("expect_column_values_to_be_unique", "record_key")]


def test_a_ticket_solved_before_it_was_created_quarantines_the_metrics_batch(db):
    from ingest.zendesk import STREAMS as ZENDESK

    metrics = next(s for s in ZENDESK if s.name == "ticket_metrics")
    batch_id = str(uuid.uuid4())
    with db.transaction():
        loader.land(db, metrics, batch_id, _window(), iter([[
            {"id": 1, "ticket_id": 10, "created_at": "2026-03-01T10:00:00Z", "updated_at": "2026-03-02T10:00:00Z",
             "solved_at": "2026-03-02T09:00:00Z"},
            {"id": 2, "ticket_id": 11, "created_at": "2026-03-05T10:00:00Z", "updated_at": "2026-03-05T12:00:00Z",
             "solved_at": "2026-03-04T09:00:00Z"},
        ]]))
    with pytest.raises(gate.BatchQuarantined, match="solved_at_ts is not before created_at_ts"):
        gate.validate_batch(batch_id)
    assert failed_expectations(db) == [
        ("unexpected_rows_expectation (solved_at_ts is not before created_at_ts)", None)]


def land_stream(db, source: str, stream_name: str, records: list[dict]) -> str:
    from ingest import runner

    stream = next(s for s in runner.streams_of(source) if s.name == stream_name)
    batch_id = str(uuid.uuid4())
    with db.transaction():
        loader.land(db, stream, batch_id, _window(), iter([records]))
    return batch_id


def test_a_field_the_api_does_not_document_is_kept_and_reported_as_schema_drift(db):
    batch = land(db, [{**response("a", nps=9), "sentiment_ai": "positive"}, response("b", nps=10)])
    validation = gate.validate_batch(batch)
    assert validation.outcome == "warned"
    assert [(f.expectation, f.column, f.sample) for f in validation.warnings] == [
        ("expect_column_values_to_be_null", "unknown_fields", ["sentiment_ai"])]
    assert db.execute("select record ->> 'sentiment_ai' from raw.typeform_responses "
                      "where record_key = 'a'").fetchone() == ("positive",)


def test_an_empty_batch_is_a_warning_only_when_the_stream_usually_returns_rows(db):
    assert gate.validate_batch(land(db, [])).outcome == "passed"  # no history: no bound
    for day in range(3):
        gate.validate_batch(land(db, [response(f"d{day}-{n}", nps=9) for n in range(20)]))
    validation = gate.validate_batch(land(db, []))
    assert validation.outcome == "warned"
    assert [(f.expectation, f.observed_value) for f in validation.warnings] == [
        ("expect_table_row_count_to_be_between", 0)]
    assert gate.validate_batch(land(db, [response("quiet", nps=9), response("day", nps=8)])).outcome == "passed"


def test_a_rerun_that_fetches_only_records_it_already_has_is_not_a_volume_warning(db):
    days = [[response(f"d{day}-{n}", nps=9) for n in range(20)] for day in range(3)]
    for records in days:
        gate.validate_batch(land(db, records))
    rerun = land(db, days[2])
    # Unchanged records keep the batch that first landed them: the rerun's batch holds no rows.
    assert db.execute("select count(*) from raw.typeform_responses where _batch_id = %s",
                      (rerun,)).fetchone() == (0,)
    assert gate.validate_batch(rerun).outcome == "passed"


def test_every_kind_of_bad_batch_stays_out_of_staging_while_another_sources_good_batch_gets_in(db):
    ticket = {"id": 1, "status": "open", "created_at": "2026-03-01T10:00:00Z", "updated_at": "2026-03-01T11:00:00Z"}
    review = {"id": "v1", "stars": 4, "language": "en", "createdAt": "2026-03-01T10:00:00Z",
              "consumer": {"id": "c1"}}
    contact = {"id": "1", "updatedAt": "2026-03-01T10:00:00Z", "createdAt": "2026-03-01T10:00:00Z",
               "properties": {"email": "ann@example.com"}}
    bad = {
        "null key": land(db, [response("kept", nps=9), {"submitted_at": "2026-03-01T10:00:00Z", "_metrics": {}}]),
        "repeated key": land(db, [response("twin", nps=9), response("twin", "2026-03-02T10:00:00Z", nps=3)]),
        "score out of scale": land_stream(db, "trustpilot", "reviews", [review, {**review, "id": "v2", "stars": 6}]),
        "timestamp in the future": land_stream(db, "zendesk", "tickets", [
            ticket, {**ticket, "id": 2, "updated_at": "2999-01-01T00:00:00Z"}]),
        "solved before created": land_stream(db, "zendesk", "ticket_metrics", [
            {"id": 7, "ticket_id": 1, "created_at": "2026-03-05T10:00:00Z", "updated_at": "2026-03-05T12:00:00Z",
             "solved_at": "2026-03-04T09:00:00Z"}]),
        "invalid email": land_stream(db, "hubspot", "contacts", [
            contact, *({**contact, "id": str(n), "properties": {"email": f"n{n}.example.com"}} for n in range(2, 9))]),
    }
    good = land_stream(db, "files", "records", [
        {"_key": "audits:A-1", "_updated_at": "2026-03-01T10:00:00Z", "_dataset": "audits", "_file": "a.csv",
         "_file_sha256": "00", "audit_id": "A-1", "score": "88", "email": "shopper@example.com"}])

    caught = {}
    for kind, batch in bad.items():
        with pytest.raises(gate.BatchQuarantined) as failure:
            gate.validate_batch(batch)
        caught[kind] = str(failure.value)
    assert gate.validate_batch(good).outcome == "passed"
    assert "expect_column_values_to_not_be_null on record_key" in caught["null key"]
    assert "expect_column_values_to_be_unique on record_key" in caught["repeated key"]
    assert "expect_column_values_to_be_between on stars" in caught["score out of scale"]
    assert "updated_at_ts is not in the future" in caught["timestamp in the future"]
    assert "solved_at_ts is not before created_at_ts" in caught["solved before created"]
    assert "expect_column_values_to_match_regex on email" in caught["invalid email"]

    from ingest import runner

    runner.prepare_warehouse()
    warehouse.run_dbt(["run", "--select", "staging"])
    staged = {table: db.execute(f"select count(*) from staging.{table}").fetchone()[0] for table in [
        "stg_typeform__responses", "stg_trustpilot__reviews", "stg_zendesk__tickets",
        "stg_zendesk__ticket_metrics", "stg_hubspot__contacts"]}
    assert staged == dict.fromkeys(staged, 0)
    assert db.execute("select record_id, score from staging.stg_files__records").fetchall() == [
        ("audits:A-1", 88)]


def test_data_docs_render_every_suite_and_each_kept_validation(db):
    from expectations import data_docs

    batch = land(db, [response("a", nps=9)])
    gate.validate_batch(batch)
    index = data_docs.build()
    assert index == data_docs.site_dir() / "index.html" and index.is_file()
    pages = {p.relative_to(data_docs.site_dir()).parts[:2] for p in data_docs.site_dir().rglob("*.html")}
    assert ("validations", "typeform_responses") in pages
    assert {("expectations", f"{name}.html") for name in definitions.SUITES} <= pages
    assert batch in (data_docs.site_dir() / "index.html").read_text()
