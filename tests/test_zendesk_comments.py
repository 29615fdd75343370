"""Zendesk ticket comments: the ticket events export with comment events, landed, and staged.

The connector against the simulator (pages until end_of_stream, a second served twice at a page
boundary landing once, reruns, the rate limit), the simulator's comments (languages, authors,
internal notes, determinism), the phrase bank its customers write from (each phrase's known
topic is what the taxonomy finds; its known sentiment agrees with the lexicon for most), and
stg_zendesk__ticket_comments built by dbt (the text as written, deleted tickets' comments gone).
"""

from __future__ import annotations

import base64
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from enrichment import sentiment, topics
from ingest import runner, zendesk
from ingest.connections import get_connection
from ingest.streams import Window, tombstone
from simulators import phrases
from simulators.company import Company
from simulators.zendesk import AGENT_IDS, ZendeskApi
from tests.shop import at, land, serving_zendesk, ticket
from tests.shop import dbt as run_dbt

COMPANY = Company(customers=40, end=datetime(2026, 3, 10, tzinfo=UTC), days=30)
END = COMPANY.end
DAY = timedelta(days=1)
EMAIL, TOKEN = "agent@cxloop.example", "zd-demo-token"
RETRY = {"backoff_initial": 0.01, "jitter": 0.0, "max_attempts": 4}
STREAM = next(stream for stream in zendesk.STREAMS if stream.name == "ticket_comments")
EVENTS_PATH = "/api/v2/incremental/ticket_events.json"


def serve(api: ZendeskApi, monkeypatch):
    return serving_zendesk(api, monkeypatch, login=EMAIL, password=TOKEN, extra={"retry": RETRY})


@pytest.fixture
def api():
    return ZendeskApi(COMPANY, EMAIL, TOKEN)


@pytest.fixture
def sim(api, monkeypatch):
    with serve(api, monkeypatch) as server:
        yield server


def run(start: datetime | None = None, end: datetime = END):
    source = zendesk.from_connection(get_connection(zendesk.CONN_ID))
    return runner.run_stream(source, STREAM, Window(start, end))


def children(api: ZendeskApi, kind: str | None = None) -> list[dict]:
    """Every child event the export serves with comment events, or those of one event_type."""
    return [child for event in api.records("ticket_events") for child in event["child_events"]
            if kind is None or child["event_type"] == kind]


def comments(api: ZendeskApi) -> list[dict]:
    return [child for child in children(api) if child["event_type"] in zendesk.COMMENT_EVENT_TYPES]


def landed(db) -> dict[str, dict]:
    return dict(db.execute("select record_key, record from raw.zendesk_ticket_comments").fetchall())


def basic_auth() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()}


# -- the connector against the simulator ---------------------------------------------------------


def test_a_first_run_lands_each_comment_once_with_its_ticket_and_no_other_child_event(db, sim, api):
    result = run()
    rows = landed(db)
    served = comments(api)
    assert rows.keys() == {str(c["id"]) for c in served}
    assert (result.fetched, result.landed, result.rejected) == (len(served), len(served), 0)
    # Status changes are child events too, mixed in with the comments: none of them lands.
    changes = children(api, "Change")
    assert changes and not rows.keys() & {str(c["id"]) for c in changes}
    tickets_of = {child["id"]: event["ticket_id"] for event in api.records("ticket_events")
                  for child in event["child_events"]}
    assert all(row["ticket_id"] == tickets_of[int(key)] for key, row in rows.items())
    # Internal notes land too, marked: staging decides what is a customer's verbatim.
    assert Counter(row["public"] for row in rows.values()) == Counter(c["public"] for c in served)
    assert False in {row["public"] for row in rows.values()}
    [request] = [r for r in sim.requests if r.path == EVENTS_PATH]
    assert request.query == {"start_time": [str(zendesk.EARLIEST_START_TIME)], "include": ["comment_events"],
                             "per_page": [str(zendesk.TICKET_EVENTS_PAGE_SIZE)]}


def test_pages_follow_end_time_until_end_of_stream_and_a_second_served_twice_lands_once(db, sim, api, monkeypatch):
    monkeypatch.setattr(zendesk, "TICKET_EVENTS_PAGE_SIZE", 7)
    result = run()
    requests = [r for r in sim.requests if r.path == EVENTS_PATH]
    assert len(requests) > 3
    # Replay the connector's requests to see what each page served.
    pages = [api.handle("GET", r.path, r.query, basic_auth(), b"").body for r in requests]
    assert [page["end_of_stream"] for page in pages] == [False] * (len(pages) - 1) + [True]
    for request, previous in zip(requests[1:], pages, strict=False):
        assert request.query["start_time"] == [str(previous["end_time"])]
    served = [child["id"] for page in pages for event in page["ticket_events"] for child in event["child_events"]
              if child["event_type"] in zendesk.COMMENT_EVENT_TYPES]
    # Each page after the first serves its predecessor's last second again ...
    assert len(served) > len(set(served))
    # ... and every comment lands once: none is fetched twice, none is turned away as a repeat.
    assert result.fetched == result.landed == len(set(served)) == len(comments(api))
    assert result.rejected == 0
    assert landed(db).keys() == {str(c["id"]) for c in comments(api)}


def test_a_rerun_of_the_same_window_lands_no_new_row(db, sim, api):
    run(END - DAY, END)
    first = landed(db)
    again = run(END - DAY, END)
    assert (again.inserted, again.updated, again.rejected) == (0, 0, 0)
    assert landed(db) == first


def test_a_later_night_lands_only_the_comments_made_since(db, sim, api):
    middle = END - timedelta(days=10)
    api.as_of = middle
    run(middle - DAY, middle)
    before = landed(db).keys()
    api.as_of = END
    result = run(middle, END)
    after = {str(c["id"]) for c in comments(api)}
    assert landed(db).keys() == after
    assert (result.inserted, result.updated) == (len(after - before), 0)
    assert after - before


def test_the_rate_limit_of_the_exports_is_waited_out(db, monkeypatch):
    limited = ZendeskApi(COMPANY, EMAIL, TOKEN, incremental_per_minute=2, rate_window_seconds=0.3)
    total = len(comments(limited))
    monkeypatch.setattr(zendesk, "TICKET_EVENTS_PAGE_SIZE", math.ceil(len(limited.records("ticket_events")) / 3))
    with serve(limited, monkeypatch) as server:
        result = run()
    assert 429 in [r.status for r in server.requests]
    assert (result.fetched, result.rejected) == (total, 0)


class Pages:
    """A client serving prepared export pages in order, recording what it was asked."""

    def __init__(self, *bodies: dict) -> None:
        self.bodies, self.asked = list(bodies), []

    def get_json(self, path: str, params: dict[str, Any], stream: str) -> dict:
        self.asked.append((path, dict(params)))
        return self.bodies.pop(0)


def event(event_id: int, ticket_id: int, second: int, *kids: dict) -> dict:
    return {"id": event_id, "ticket_id": ticket_id, "timestamp": second, "created_at": f"second {second}",
            "updater_id": 5, "via": {"channel": "web"}, "event_type": "Audit", "child_events": list(kids)}


def comment(comment_id: int, body: str, **extra: Any) -> dict:
    return {"id": comment_id, "type": "Comment", "event_type": "Comment", "author_id": 5, "body": body,
            "public": True, **extra}


def test_a_comment_repeated_at_a_page_boundary_is_yielded_once_and_other_children_never():
    status = {"id": 99, "event_type": "Change", "status": "open"}
    client = Pages(
        {"ticket_events": [event(1, 10, 100, comment(2, "first", created_at="own time"), status),
                           event(3, 11, 101, comment(4, "second"))],
         "end_time": 101, "end_of_stream": False, "count": 2},
        # The next page starts at end_time, so the event of second 101 comes again.
        {"ticket_events": [event(3, 11, 101, comment(4, "second")), event(5, 12, 102, comment(6, "third"))],
         "end_time": 102, "end_of_stream": True, "count": 2},
    )
    source = zendesk.ZendeskSource(client=client, clock=lambda: END)
    pages = list(source.read(STREAM, Window(None, END)))
    assert [[c["id"] for c in page] for page in pages] == [[2, 4], [6]]
    assert pages[0][0] == {"id": 2, "type": "Comment", "event_type": "Comment", "author_id": 5, "body": "first",
                           "public": True, "created_at": "own time", "ticket_id": 10, "_event_id": 1,
                           "_event_timestamp": 100}
    # A comment without its own created_at takes its event's.
    assert pages[0][1]["created_at"] == "second 101"
    assert [params["start_time"] for _path, params in client.asked] == [zendesk.EARLIEST_START_TIME, 101]


def test_a_page_that_is_not_the_end_but_does_not_move_on_stops_the_run():
    stuck = {"ticket_events": [event(1, 10, 100, comment(2, "x"))], "end_time": 1, "end_of_stream": False}
    source = zendesk.ZendeskSource(client=Pages(stuck), clock=lambda: END)
    with pytest.raises(ValueError, match="does not move past start_time 1; cannot page further"):
        list(source.read(STREAM, Window(None, END)))


# -- the simulator -------------------------------------------------------------------------------


def test_customers_write_labelled_phrases_in_their_language_and_agents_answer_in_it(api):
    languages = {user["id"]: user["locale"] for user in api.records("users")}
    requesters = {t["id"]: t["requester_id"] for t in api.records("tickets")}
    seen_languages = set()
    for ticket_event in api.records("ticket_events"):
        language = languages[requesters[ticket_event["ticket_id"]]]
        for child in ticket_event["child_events"]:
            if child["event_type"] not in zendesk.COMMENT_EVENT_TYPES:
                continue
            if child["author_id"] == requesters[ticket_event["ticket_id"]]:
                label = phrases.label_of(child["body"])
                assert label is not None and label.language == language and child["public"]
                seen_languages.add(language)
            else:
                assert child["author_id"] in AGENT_IDS
                said = phrases.AGENT_REPLIES if child["public"] else phrases.INTERNAL_NOTES
                assert child["body"] in said[language]
    assert seen_languages == set(phrases.LANGUAGES)


def test_a_tickets_customer_comments_share_one_topic_and_a_reopening_is_a_complaint(api):
    requesters = {t["id"]: t["requester_id"] for t in api.records("tickets")}
    topics_of: dict[int, set[str]] = {}
    status: dict[int, str] = {}
    reopenings = 0
    # The export is chronological, so each ticket's audits come in the order they happened.
    for ticket_event in api.records("ticket_events"):
        ticket_id = ticket_event["ticket_id"]
        [change] = [c for c in ticket_event["child_events"] if c["event_type"] == "Change"]
        for child in ticket_event["child_events"]:
            if child.get("author_id") == requesters[ticket_id]:
                label = phrases.label_of(child["body"])
                topics_of.setdefault(ticket_id, set()).add(label.topic)
                if status.get(ticket_id) == "solved":
                    reopenings += 1
                    assert label.sentiment == "negative"
        status[ticket_id] = change["status"]
    assert reopenings and all(len(found) == 1 for found in topics_of.values())


def test_the_export_without_comment_events_only_flags_comments_and_answers_like_the_other_exports(api):
    def export(**query: str):
        return api.handle("GET", EVENTS_PATH, {k: [v] for k, v in query.items()}, basic_auth(), b"")

    bare, full = export(start_time="1"), export(start_time="1", include="comment_events")
    assert bare.status == full.status == 200
    assert bare.body["count"] == full.body["count"] == len(full.body["ticket_events"]) > 0
    for without, with_comments in zip(bare.body["ticket_events"], full.body["ticket_events"], strict=True):
        kinds = [child["event_type"] for child in with_comments["child_events"]]
        assert [child["event_type"] for child in without["child_events"]] == ["Change"]
        assert without["comment_present"] == ("Comment" in kinds or "VoiceComment" in kinds)
    assert full.body["end_of_stream"] is True
    assert full.body["next_page"].endswith(f"start_time={full.body['end_time']}&include=comment_events")
    recent = str(int(datetime.now(UTC).timestamp()) - 30)
    assert export(start_time=recent).status == 400
    assert api.handle("GET", EVENTS_PATH, {"start_time": ["1"]}, {}, b"").status == 401


def test_the_same_seed_serves_the_same_comments_and_another_seed_others():
    same = ZendeskApi(COMPANY, EMAIL, TOKEN).records("ticket_events")
    assert ZendeskApi(COMPANY, EMAIL, TOKEN).records("ticket_events") == same
    other = Company(seed=COMPANY.seed + 1, customers=40, end=END, days=30)
    assert ZendeskApi(other, EMAIL, TOKEN).records("ticket_events") != same


# -- the phrase bank against enrichment ----------------------------------------------------------


def test_the_phrase_bank_covers_every_language_topic_and_sentiment_with_two_wordings():
    counts = Counter((p.language, p.topic, p.sentiment) for p in phrases.CUSTOMER_PHRASES)
    assert set(counts) == {(language, topic, sentiment) for language in phrases.LANGUAGES
                           for topic in phrases.TOPICS for sentiment in phrases.SENTIMENTS}
    assert set(counts.values()) == {2}
    assert set(phrases.TOPICS) == {row.topic for row in topics.load_taxonomy().rows}


def test_each_phrase_is_about_its_known_topic_and_nothing_else():
    taxonomy = topics.load_taxonomy()
    found = {p: [m.topic for m in topics.match_topics(p.text, p.language, taxonomy)]
             for p in phrases.CUSTOMER_PHRASES}
    assert {p.text: f for p, f in found.items() if f != [p.topic]} == {}
    # Agents' answers and notes are about no topic: only customers' words carry one.
    for bank in (phrases.AGENT_REPLIES, phrases.INTERNAL_NOTES):
        assert [t for language, texts in bank.items() for t in texts
                if topics.match_topics(t, language, taxonomy)] == []


def test_most_phrases_known_sentiment_is_what_the_lexicon_reads():
    agreeing = Counter(sentiment.score_lexicon(p.text, p.language).label == p.sentiment
                       for p in phrases.CUSTOMER_PHRASES)
    # Measured, not required to be total: the lexicon is the fallback, and misses some praise.
    assert agreeing[True] / len(phrases.CUSTOMER_PHRASES) >= 0.8


# -- staging ---------------------------------------------------------------------------------------


def raw_comment(comment_id: int, ticket_id: int, author: int, body: str, *, public: bool = True,
                plain_body: str | None = None) -> dict:
    """A comment as the connector lands it: the child event plus its event's ticket and id."""
    record = {"id": comment_id, "type": "Comment", "event_type": "Comment", "author_id": author, "body": body,
              "html_body": f"<p>{body}</p>", "public": public, "attachments": [], "audit_id": comment_id - 1,
              "via": {"channel": "email"}, "created_at": at(5, 9), "ticket_id": ticket_id,
              "_event_id": comment_id - 1, "_event_timestamp": int(datetime(2026, 3, 5, 9, tzinfo=UTC).timestamp())}
    if plain_body is not None:
        record["plain_body"] = plain_body
    return record


def staged(db) -> dict[int, tuple]:
    return {row[0]: row[1:] for row in db.execute(
        "select comment_id, ticket_id, author_id, body, is_public, source_channel, created_at, ticket_event_at "
        "from staging.stg_zendesk__ticket_comments")}


# The comments' model, the deletion ledger it reads, and the tickets its relationship test reads.
BUILD = ("build", "--select", "+stg_zendesk__ticket_comments", "stg_zendesk__tickets",
         "--indirect-selection", "cautious")


@pytest.mark.integration
def test_staging_keeps_the_text_as_written_and_drops_the_comments_of_a_deleted_ticket(db):
    land("zendesk", "tickets", [ticket(10, 70, "email", at(5, 9), "open"), ticket(11, 71, "web", at(5, 9), "open")])
    land("zendesk", "ticket_comments", [
        raw_comment(2, 10, 70, "  Where is my parcel?\n"),
        raw_comment(4, 10, 9_100_001, "Escalated.", public=False),
        raw_comment(6, 11, 71, "<b>Slow</b> reply", plain_body="Slow reply"),
        raw_comment(8, 11, 71, "   "),
    ])
    run_dbt(*BUILD)
    assert staged(db) == {
        2: (10, 70, "  Where is my parcel?\n", True, "email", datetime(2026, 3, 5, 9, tzinfo=UTC),
            datetime(2026, 3, 5, 9, tzinfo=UTC)),
        4: (10, 9_100_001, "Escalated.", False, "email", datetime(2026, 3, 5, 9, tzinfo=UTC),
            datetime(2026, 3, 5, 9, tzinfo=UTC)),
        6: (11, 71, "Slow reply", True, "email", datetime(2026, 3, 5, 9, tzinfo=UTC),
            datetime(2026, 3, 5, 9, tzinfo=UTC)),
        8: (11, 71, None, True, "email", datetime(2026, 3, 5, 9, tzinfo=UTC), datetime(2026, 3, 5, 9, tzinfo=UTC)),
    }
    # Ticket 10 is deleted at the source; a late comment of it lands the same night.
    land("zendesk", "tickets", [tombstone({"id": 10}, at(6, 9))])
    land("zendesk", "ticket_comments", [raw_comment(12, 10, 70, "Any news?")])
    run_dbt(*BUILD)
    assert sorted(staged(db)) == [6, 8]
    run_dbt(*BUILD, "--full-refresh")
    assert sorted(staged(db)) == [6, 8]
