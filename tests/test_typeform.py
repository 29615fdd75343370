"""The Typeform connector against its simulator, through the runner and the real warehouse."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from ingest import runner, typeform, warehouse
from ingest.streams import Window
from simulators import launch
from simulators.company import FORMS, NPS_FORM, SUPPORT_FORM, Company
from simulators.server import Fault
from simulators.typeform import TypeformApi
from tests.shop import at, dbt, land, response

COMPANY = Company(customers=60, end=datetime(2026, 3, 10, tzinfo=UTC), days=30)
ALL = [r for r in COMPANY.typeform_responses()]
UNFINISHED = [COMPANY.typeform_unfinished_response(n) for n in range(len(COMPANY.typeform_unfinished_plan.person))]
DAY = timedelta(days=1)
AUTH = {"Authorization": "Bearer tf-demo-token"}


@pytest.fixture
def sims(monkeypatch):
    with launch.start(COMPANY, retry={"backoff_initial": 0.01, "jitter": 0.0, "max_attempts": 4}) as running:
        for name, value in running.env.items():
            monkeypatch.setenv(name, value)
        yield running


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(typeform, "PAGE_SIZE", 5)


def run(start, end, **kwargs):
    return runner.run_source("typeform", Window(start, end), **kwargs)[0]


def landed(db):
    return {key for (key,) in db.execute("select record_key from raw.typeform_responses")}


def before(moment):
    return {r["token"] for r in ALL if r["submitted_at"] < moment.strftime("%Y-%m-%dT%H:%M:%SZ")}


def partial_before(moment):
    return {r["token"] for r in UNFINISHED
            if r["response_type"] == "partial" and r["staged_at"] < moment.strftime("%Y-%m-%dT%H:%M:%SZ")}


@pytest.fixture
def with_partial(sims, monkeypatch):
    connection = json.loads(sims.env["AIRFLOW_CONN_CXLOOP_TYPEFORM"])
    connection["extra"]["include_partial"] = True
    monkeypatch.setenv("AIRFLOW_CONN_CXLOOP_TYPEFORM", json.dumps(connection))
    return sims


def test_first_run_lands_the_whole_history_up_to_the_interval_end(db, sims, small_pages):
    end = COMPANY.end - 2 * DAY
    result = run(end - DAY, end)
    assert landed(db) == before(end)
    assert result.fetched == result.landed == len(before(end))
    assert result.rejected == 0


def test_pages_are_followed_with_the_before_token_until_page_count_reaches_one(db, sims, small_pages):
    run(COMPANY.end - DAY, COMPANY.end)
    # The window's pages (the reconciliation due on a first run lists the form without a window).
    nps_requests = [r for r in sims.servers["typeform"].requests if NPS_FORM in r.path and "until" in r.query]
    nps_total = sum(1 for r in ALL if r["_form_id"] == NPS_FORM)
    assert len(nps_requests) == -(-nps_total // 5)
    assert "before" not in nps_requests[0].query
    assert all("before" in r.query for r in nps_requests[1:])


def test_an_empty_last_page_ends_the_stream(db, sims, small_pages, monkeypatch):
    exact = sum(1 for r in ALL if r["_form_id"] == NPS_FORM)
    monkeypatch.setattr(typeform, "PAGE_SIZE", exact)  # one full page, then nothing left
    result = run(COMPANY.end - DAY, COMPANY.end)
    assert result.fetched == len(ALL)


def test_incremental_run_reads_from_the_cursor_and_lands_only_new_responses(db, sims, small_pages):
    day = COMPANY.end - DAY
    run(day - DAY, day)
    sims.servers["typeform"].requests.clear()
    second = run(day, COMPANY.end)
    assert landed(db) == before(COMPANY.end)
    assert second.inserted == len(before(COMPANY.end) - before(day))
    since = sims.servers["typeform"].requests[0].query["since"]
    assert since == [(day - typeform.STREAMS[0].lookback).strftime("%Y-%m-%dT%H:%M:%S")]


def test_rerunning_the_same_interval_lands_nothing_new(db, sims):
    run(COMPANY.end - DAY, COMPANY.end)
    again = run(COMPANY.end - DAY, COMPANY.end)
    assert (again.inserted, again.updated, again.rejected) == (0, 0, 0)
    assert landed(db) == before(COMPANY.end)


def test_429_and_5xx_are_survived_without_losing_a_record(db, sims, small_pages):
    server = sims.servers["typeform"]
    server.inject(Fault("status", status=429, retry_after=0.05))
    server.inject(Fault("status", status=503))
    server.inject(Fault("reset"))
    result = run(COMPANY.end - DAY, COMPANY.end)
    assert landed(db) == before(COMPANY.end)
    assert result.rejected == 0
    assert [r.status for r in server.requests[:4]] == [429, 503, 0, 200]


def test_a_malformed_record_is_rejected_with_its_reason_and_the_rest_lands(db, sims, small_pages):
    sims.servers["typeform"].inject(Fault("malformed_record"))
    result = run(COMPANY.end - DAY, COMPANY.end)
    assert result.fetched == len(ALL)
    assert (result.landed, result.rejected) == (len(ALL) - 1, 1)
    reason, original = db.execute("select reason, original from raw._rejected").fetchone()
    assert reason == "no natural key: missing 'token'"
    assert json.loads(original)["_form_id"] in FORMS


def test_a_failed_run_lands_nothing_and_leaves_the_cursor_alone(db, sims, small_pages):
    day = COMPANY.end - DAY
    run(day - DAY, day)
    rows_before = landed(db)
    sims.servers["typeform"].inject(Fault("status", status=500), times=50)
    with pytest.raises(Exception, match="gave up after 4 attempts"):
        run(day, COMPANY.end)
    assert landed(db) == rows_before
    assert db.execute("select watermark from raw._state where stream = 'responses'").fetchall() == [(day,)]


def test_answers_are_mapped_to_metrics_by_field_ref_and_type(db, sims):
    run(COMPANY.end - DAY, COMPANY.end)
    metrics = db.execute("select record->'_metrics' from raw.typeform_responses").fetchall()
    nps = [m["nps"] for (m,) in metrics if "nps" in m]
    assert len(nps) == sum(1 for r in ALL if r["_form_id"] == NPS_FORM)
    assert all(0 <= score <= 10 for score in nps)
    assert all(1 <= m["csat"] <= 5 and 1 <= m["ces"] <= 7 for (m,) in metrics if "csat" in m)


def test_a_source_without_a_connection_is_skipped(db, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_CXLOOP_TYPEFORM", raising=False)
    assert runner.run_source("typeform", Window(COMPANY.end - DAY, COMPANY.end)) == []
    assert os.environ.get("AIRFLOW_CONN_CXLOOP_TYPEFORM") is None


# -- partial responses ---------------------------------------------------------------------------


def test_the_test_company_has_partial_and_started_responses_on_both_forms():
    kinds = {(r["_form_id"], r["response_type"]) for r in UNFINISHED}
    assert {(NPS_FORM, "partial"), (SUPPORT_FORM, "partial")} <= kinds
    assert any(kind == "started" for _, kind in kinds)
    assert all(r["submitted_at"] == "0001-01-01T00:00:00Z" for r in UNFINISHED)


def test_partial_responses_are_not_fetched_by_default(db, sims):
    result = run(COMPANY.end - DAY, COMPANY.end)
    assert landed(db) == before(COMPANY.end)
    assert result.fetched == len(before(COMPANY.end))
    assert {tuple(r.query["response_type"]) for r in sims.servers["typeform"].requests} == {("completed",)}
    assert db.execute("select distinct record->>'response_type' from raw.typeform_responses").fetchall() == [
        ("completed",)]


def test_include_partial_lands_partial_responses_flagged_and_staging_counts_none_of_their_scores(db, with_partial):
    end = COMPANY.end - 2 * DAY
    result = run(end - DAY, end)
    partial = partial_before(end)
    assert partial and not partial & before(end)
    assert landed(db) == before(end) | partial
    assert result.fetched == result.landed == len(before(end) | partial)
    asked = [(r.path.split("/")[2], r.query["response_type"]) for r in with_partial.servers["typeform"].requests
             if "until" in r.query]  # the window's reads, not the first run's reconciliation
    assert asked == [(form, [kind]) for form in FORMS for kind in ("completed", "partial")]
    flagged = dict(db.execute("select record_key, record->>'response_type' from raw.typeform_responses").fetchall())
    assert {key for key, kind in flagged.items() if kind == "partial"} == partial

    warehouse.run_dbt(["build", "--select", "stg_typeform__responses"])
    rows = db.execute("select response_id, is_completed, submitted_at, nps_score, csat_score, staged_at "
                      "from staging.stg_typeform__responses").fetchall()
    assert {r[0] for r in rows if not r[1]} == partial
    assert all(r[2] is None and r[3] is None and r[4] is None and r[5] is not None for r in rows if not r[1])
    assert all(r[2] is not None and r[5] is None for r in rows if r[1])


def test_a_partial_response_lands_again_only_as_its_staged_time_passes_the_cursor(db, with_partial):
    day = COMPANY.end - DAY
    run(day - DAY, day)
    second = run(day, COMPANY.end)
    assert landed(db) == before(COMPANY.end) | partial_before(COMPANY.end)
    new = (before(COMPANY.end) - before(day)) | (partial_before(COMPANY.end) - partial_before(day))
    assert second.inserted == len(new)
    again = run(day, COMPANY.end)
    assert (again.inserted, again.updated, again.rejected) == (0, 0, 0)


def test_include_partial_must_be_a_boolean(sims, monkeypatch):
    connection = json.loads(sims.env["AIRFLOW_CONN_CXLOOP_TYPEFORM"])
    connection["extra"]["include_partial"] = "false"
    monkeypatch.setenv("AIRFLOW_CONN_CXLOOP_TYPEFORM", json.dumps(connection))
    from ingest.connections import get_connection

    with pytest.raises(ValueError, match="extra.include_partial must be true or false; got 'false'"):
        typeform.from_connection(get_connection(typeform.CONN_ID))


def _served(api, form, **query) -> list[str]:
    reply = api.handle("GET", f"/forms/{form}/responses", {"page_size": ["1000"], **{
        name: [value] for name, value in query.items()}}, AUTH, b"")
    assert reply.status == 200, reply.body
    return [item["token"] for item in reply.body["items"]]


def _newest_first(records, time_field):
    """Tokens newest first by `time_field`, ties by token as the API breaks them."""
    by_token = sorted(records, key=lambda r: r["token"])
    return [r["token"] for r in sorted(by_token, key=lambda r: r[time_field], reverse=True)]


def test_the_simulator_serves_each_response_type_by_its_own_time_as_documented():
    api = TypeformApi(COMPANY)
    form = NPS_FORM
    completed = [r for r in ALL if r["_form_id"] == form]
    unfinished = [r for r in UNFINISHED if r["_form_id"] == form]
    partial = [r for r in unfinished if r["response_type"] == "partial"]
    started = [r for r in unfinished if r["response_type"] == "started"]
    assert partial and started

    # The default, and both spellings of it, are the completed responses by submission.
    assert _served(api, form) == _served(api, form, response_type="completed") == \
        _served(api, form, completed="true") == _newest_first(completed, "submitted_at")
    assert _served(api, form, response_type="partial") == _newest_first(partial, "staged_at")
    assert _served(api, form, response_type="started") == _newest_first(started, "landed_at")
    # completed=false: everything not submitted, by landing.
    assert _served(api, form, completed="false") == _newest_first(unfinished, "landed_at")
    # Asking for completed ones too filters and orders by submission: the rest come last, and a
    # since excludes them (they were never submitted).
    mixed = _served(api, form, response_type="partial,completed")
    assert mixed == _newest_first(completed, "submitted_at") + sorted(r["token"] for r in partial)
    since = "2026-03-01T00:00:00"
    assert _served(api, form, response_type="partial,completed", since=since) == \
        _newest_first([r for r in completed if r["submitted_at"] >= since + "Z"], "submitted_at")
    # A partial response's since/until apply to staged_at.
    one = partial[0]
    assert _served(api, form, response_type="partial", since=one["staged_at"][:-1],
                   until=one["staged_at"][:-1]) == [one["token"]]
    # response_type wins over the older parameter.
    assert _served(api, form, response_type="partial", completed="true") == _newest_first(partial, "staged_at")


def test_the_simulator_drops_answers_hidden_and_calculated_for_completed_false_only():
    api = TypeformApi(COMPANY)
    bare = api.handle("GET", f"/forms/{NPS_FORM}/responses", {"completed": ["false"]}, AUTH, b"").body["items"]
    assert bare and all({"answers", "hidden", "calculated"}.isdisjoint(item) for item in bare)
    partial = api.handle("GET", f"/forms/{NPS_FORM}/responses", {"response_type": ["partial"]}, AUTH, b"")
    assert all(item["answers"] and item["answers"][0]["field"]["ref"] == "nps" for item in partial.body["items"])


def test_the_simulator_refuses_an_unknown_response_type_or_completed_value():
    api = TypeformApi(COMPANY)
    for query in ({"response_type": ["finished"]}, {"completed": ["yes"]}):
        reply = api.handle("GET", f"/forms/{NPS_FORM}/responses", query, AUTH, b"")
        assert (reply.status, reply.body["code"]) == (400, "VALIDATION_ERROR")


def test_the_simulator_pages_a_mixed_request_with_before_tokens_without_losing_one():
    api = TypeformApi(COMPANY)
    query = {"page_size": ["4"], "response_type": ["partial,completed"]}
    tokens, body = [], api.handle("GET", f"/forms/{NPS_FORM}/responses", query, AUTH, b"").body
    while True:
        tokens += [item["token"] for item in body["items"]]
        if body["page_count"] <= 1:
            break
        body = api.handle("GET", f"/forms/{NPS_FORM}/responses", {**query, "before": [tokens[-1]]}, AUTH, b"").body
    assert tokens == _served(api, NPS_FORM, response_type="partial,completed")


def partial_response(token: str, staged: str, **scores: int) -> dict:
    """A response started and left with answers staged, as Typeform serves it."""
    return {**response(token, "0001-01-01T00:00:00Z", **scores), "response_type": "partial", "staged_at": staged,
            "landed_at": staged}


def test_nps_counts_only_completed_answers(wh):
    # 03-01: completed 10, 9, 6, 0 -> 2 promoters, 2 detractors of 4: NPS 0. Partial answers of
    # 10, 10 and 9 the same day would make it 42.86 if they counted.
    land("typeform", "responses", [
        {**response("c1", at(1, 9), nps=10), "response_type": "completed"},
        {**response("c2", at(1, 10), nps=9), "response_type": "completed"},
        response("c3", at(1, 11), nps=6),  # landed before the type was recorded: completed
        {**response("c4", at(1, 12), nps=0), "response_type": "completed"},
        partial_response("p1", at(1, 13), nps=10),
        partial_response("p2", at(1, 14), nps=10),
        partial_response("p3", at(1, 15), nps=9),
    ])
    dbt("seed")
    dbt("run", "--select", "+kpi_nps_daily")
    with warehouse.connect(autocommit=True) as conn:
        assert conn.execute("select date::text, responses, promoters, passives, detractors, nps::text "
                            "from marts.kpi_nps_daily").fetchall() == [("2026-03-01", 4, 2, 0, 2, "0.00")]
        assert conn.execute("select response_id from staging.stg_typeform__responses where not is_completed "
                            "order by 1").fetchall() == [("p1",), ("p2",), ("p3",)]


# -- deleted responses ---------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    """The connector's wall clock, set by the test: `clock.now = ...`."""

    class Clock:
        now = COMPANY.end

    monkeypatch.setattr(typeform, "_now", lambda: Clock.now)
    return Clock


def reconciled_at(db):
    row = db.execute("select watermark from raw._state where stream = 'responses_reconciliation'").fetchone()
    return row and row[0]


def raw_record(db, token):
    return db.execute("select record from raw.typeform_responses where record_key = %s", (token,)).fetchone()[0]


def make_due(db):
    db.execute("delete from raw._state where stream = 'responses_reconciliation'")


def test_a_deleted_response_is_tombstoned_when_the_reconciliation_is_due_and_not_before(db, sims, clock):
    api = sims.servers["typeform"].api
    api.as_of = COMPANY.end + 10 * DAY
    gone = ALL[0]
    clock.now = COMPANY.end + timedelta(hours=1)
    first = run(COMPANY.end - DAY, COMPANY.end)  # a first run reconciles: nothing landed to miss yet
    assert first.deleted == 0 and reconciled_at(db) == clock.now
    api.delete(gone["token"], COMPANY.end + DAY)

    clock.now = COMPANY.end + 2 * DAY  # 2 days after the last reconciliation: not due
    sims.servers["typeform"].requests.clear()
    early = run(COMPANY.end, COMPANY.end + DAY)
    assert early.deleted == 0 and raw_record(db, gone["token"])["token"] == gone["token"]
    assert all("until" in r.query for r in sims.servers["typeform"].requests)  # only the window was read

    clock.now = COMPANY.end + 8 * DAY  # 7 days after: due
    due = run(COMPANY.end + DAY, COMPANY.end + 2 * DAY)
    assert raw_record(db, gone["token"]) == {"token": gone["token"], "form_id": gone["_form_id"],
                                             "_deleted_at": clock.now.isoformat()}
    assert due.deleted == 1 and reconciled_at(db) == clock.now
    assert db.execute("select deleted from audit.load_batches where batch_id = %s",
                      (due.batch_id,)).fetchone() == (1,)


def test_a_response_younger_than_30_minutes_at_the_listing_is_never_tombstoned(db, sims, clock):
    api = sims.servers["typeform"].api
    newest = max(ALL, key=lambda r: r["submitted_at"])
    submitted = datetime.fromisoformat(newest["submitted_at"])
    api.as_of = submitted + timedelta(hours=1)
    clock.now = submitted + timedelta(minutes=5)
    run(COMPANY.end - DAY, COMPANY.end)
    api.delete(newest["token"], submitted + timedelta(minutes=6))

    make_due(db)
    clock.now = submitted + timedelta(minutes=29)
    assert run(COMPANY.end - DAY, COMPANY.end).deleted == 0
    assert raw_record(db, newest["token"])["token"] == newest["token"]
    make_due(db)
    clock.now = submitted + timedelta(minutes=31)
    assert run(COMPANY.end - DAY, COMPANY.end).deleted == 1
    assert "_deleted_at" in raw_record(db, newest["token"])


def test_the_reconciliation_time_moves_only_with_a_landed_batch(db, sims, clock):
    api = sims.servers["typeform"].api
    api.as_of = COMPANY.end + DAY
    run(COMPANY.end - DAY, COMPANY.end)
    api.delete(ALL[0]["token"], COMPANY.end + timedelta(hours=1))
    make_due(db)
    clock.now = COMPANY.end + DAY
    sims.servers["typeform"].inject(Fault("status", status=500), times=50)
    with pytest.raises(Exception, match="gave up after 4 attempts"):
        run(COMPANY.end, COMPANY.end + DAY)
    assert reconciled_at(db) is None
    assert raw_record(db, ALL[0]["token"])["token"] == ALL[0]["token"]
    sims.servers["typeform"].clear_faults()
    assert run(COMPANY.end, COMPANY.end + DAY).deleted == 1
    assert reconciled_at(db) == clock.now


def test_partial_responses_are_not_tombstoned_when_partials_are_no_longer_read(db, with_partial, clock, monkeypatch):
    run(COMPANY.end - DAY, COMPANY.end)
    partial = partial_before(COMPANY.end)
    connection = json.loads(with_partial.env["AIRFLOW_CONN_CXLOOP_TYPEFORM"])
    monkeypatch.setenv("AIRFLOW_CONN_CXLOOP_TYPEFORM", json.dumps(
        {**connection, "extra": {**connection["extra"], "include_partial": False}}))
    make_due(db)
    clock.now = COMPANY.end + DAY
    assert run(COMPANY.end, COMPANY.end + DAY).deleted == 0
    assert landed(db) == before(COMPANY.end) | partial


@pytest.mark.parametrize("every", ["7", -1, 1.5, True])
def test_reconcile_every_days_must_be_a_whole_number_of_days(sims, monkeypatch, every):
    connection = json.loads(sims.env["AIRFLOW_CONN_CXLOOP_TYPEFORM"])
    connection["extra"]["reconcile_every_days"] = every
    monkeypatch.setenv("AIRFLOW_CONN_CXLOOP_TYPEFORM", json.dumps(connection))
    from ingest.connections import get_connection

    with pytest.raises(ValueError, match="extra.reconcile_every_days must be a whole number of days"):
        typeform.from_connection(get_connection(typeform.CONN_ID))


def test_reconcile_every_days_0_never_lists_the_forms_whole(db, sims, monkeypatch):
    connection = json.loads(sims.env["AIRFLOW_CONN_CXLOOP_TYPEFORM"])
    connection["extra"]["reconcile_every_days"] = 0
    monkeypatch.setenv("AIRFLOW_CONN_CXLOOP_TYPEFORM", json.dumps(connection))
    run(COMPANY.end - DAY, COMPANY.end)
    assert all("until" in r.query for r in sims.servers["typeform"].requests)
    assert reconciled_at(db) is None
