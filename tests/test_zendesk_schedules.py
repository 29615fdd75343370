"""Zendesk's business-hours schedules, their holidays and the time zones, from the simulator to staging.

Three short lists the connector reads whole every run: a record the account stops serving gets
a tombstone, and a holiday or a time zone (which carry no change time) lands a new version only
when its content changed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest import runner, zendesk
from ingest.connections import get_connection
from ingest.streams import Window
from simulators.company import Company
from simulators.zendesk import ZendeskApi, business_minutes
from tests.shop import serving_zendesk

COMPANY = Company(customers=20, end=datetime(2026, 3, 10, tzinfo=UTC), days=30)
END = COMPANY.end
EMAIL, TOKEN = "agent@cxloop.example", "zd-demo-token"
STREAMS = {stream.name: stream for stream in zendesk.STREAMS}
# The moment the connector believes it runs at: holidays are read up to a year after it.
RUN_AT = datetime(2026, 3, 10, 6, tzinfo=UTC)
ZONES = {"Pacific Time (US & Canada)": "America/Los_Angeles", "Eastern Time (US & Canada)": "America/New_York",
         "London": "Europe/London", "UTC": "Etc/UTC", "Paris": "Europe/Paris", "Warsaw": "Europe/Warsaw",
         "Tehran": "Asia/Tehran", "Beijing": "Asia/Shanghai"}


class Reorganised(ZendeskApi):
    """An account that can stop serving its second schedule, as an admin deleting it would."""

    dropped = False

    def schedules(self) -> list[dict]:
        return self.schedules_served()[:1] if self.dropped else self.schedules_served()

    def schedules_served(self) -> list[dict]:
        return super().schedules()


def serve(api: ZendeskApi, monkeypatch):
    return serving_zendesk(api, monkeypatch, login=EMAIL, password=TOKEN, extra={
        "start_date": "2025-06-01", "retry": {"backoff_initial": 0.01, "max_attempts": 2}})


@pytest.fixture
def api():
    return Reorganised(COMPANY, EMAIL, TOKEN)


@pytest.fixture
def sim(api, monkeypatch):
    with serve(api, monkeypatch) as server:
        yield server


def run(name: str, at: datetime = RUN_AT):
    source = zendesk.from_connection(get_connection(zendesk.CONN_ID))
    source.clock = lambda: at
    return runner.run_stream(source, STREAMS[name], Window(END - timedelta(days=1), END))


def landed(db, name: str) -> dict[str, dict]:
    return dict(db.execute(f"select record_key, record from raw.zendesk_{name}").fetchall())


def test_the_three_lists_land_whole_keyed_as_documented(db, sim, api):
    counts = {name: run(name) for name in zendesk.FULL_REFRESH}
    assert {name: (r.fetched, r.inserted, r.rejected) for name, r in counts.items()} == {
        "schedules": (2, 2, 0), "schedule_holidays": (3, 3, 0), "time_zones": (8, 8, 0)}
    assert set(landed(db, "schedules")) == {"360000101", "360000102"}
    assert landed(db, "schedule_holidays") == {
        "360000101:370000001": {"id": 370000001, "name": "Founders' Day", "start_date": "2025-12-25",
                                "end_date": "2025-12-25", "schedule_id": 360000101,
                                "_updated_at": "2026-03-10T06:00:00Z"},
        "360000101:370000002": {"id": 370000002, "name": "Winter break", "start_date": "2026-01-19",
                                "end_date": "2026-01-20", "schedule_id": 360000101,
                                "_updated_at": "2026-03-10T06:00:00Z"},
        "360000102:370000003": {"id": 370000003, "name": "Founders' Day", "start_date": "2025-12-25",
                                "end_date": "2025-12-25", "schedule_id": 360000102,
                                "_updated_at": "2026-03-10T06:00:00Z"}}
    assert set(landed(db, "time_zones")) == set(ZONES)
    # Holidays are asked for per schedule, from the connection's start_date to a year after the run.
    asked = [(r.path, r.query) for r in sim.requests if "/holidays" in r.path]
    assert asked == [(f"/api/v2/business_hours/schedules/{schedule}/holidays",
                      {"start_date": ["2025-06-01"], "end_date": ["2027-03-10"]})
                     for schedule in (360000101, 360000102)]


def test_a_rerun_of_unchanged_lists_lands_nothing(db, sim):
    for name in zendesk.FULL_REFRESH:
        run(name)
    again = {name: run(name) for name in zendesk.FULL_REFRESH}
    assert {name: (r.inserted, r.updated, r.deleted) for name, r in again.items()} == {
        name: (0, 0, 0) for name in zendesk.FULL_REFRESH}


def test_a_time_zone_whose_offset_changed_lands_a_new_version_and_only_it(db, sim, api):
    run("time_zones")
    # Summer time: London, Paris and Warsaw move an hour; the US zones were already on it on 10 March.
    api.as_of = datetime(2026, 7, 1, tzinfo=UTC)
    result = run("time_zones", RUN_AT + timedelta(days=1))
    assert (result.inserted, result.updated) == (0, 3)
    zones = landed(db, "time_zones")
    assert {key for key, record in zones.items() if record["_updated_at"] == "2026-03-11T06:00:00Z"} == {
        "London", "Paris", "Warsaw"}
    assert {key: record["offset"] for key, record in zones.items()} == {
        "Pacific Time (US & Canada)": -420, "Eastern Time (US & Canada)": -240, "London": 60, "UTC": 0,
        "Paris": 120, "Warsaw": 120, "Tehran": 210, "Beijing": 480}


def test_a_schedule_removed_at_the_source_is_tombstoned_with_its_holidays(db, sim, api):
    for name in ("schedules", "schedule_holidays"):
        run(name)
    api.dropped = True
    removed = {name: run(name, RUN_AT + timedelta(days=1)) for name in ("schedules", "schedule_holidays")}
    assert {name: (r.inserted, r.updated, r.deleted) for name, r in removed.items()} == {
        "schedules": (0, 1, 1), "schedule_holidays": (0, 1, 1)}
    assert landed(db, "schedules")["360000102"] == {"id": 360000102, "_deleted_at": "2026-03-11T06:00:00Z"}
    assert landed(db, "schedule_holidays")["360000102:370000003"] == {
        "schedule_id": 360000102, "id": 370000003, "_deleted_at": "2026-03-11T06:00:00Z"}


def test_landed_lists_pass_their_quality_suites(db, sim):
    from expectations import gate

    for name in zendesk.FULL_REFRESH:
        assert gate.validate_batch(run(name).batch_id).outcome == "passed", name


def test_staging_holds_the_schedules_intervals_holidays_and_zones_served(db, sim, api):
    from ingest import warehouse

    for name in zendesk.FULL_REFRESH:
        run(name)
    models = ["stg_zendesk__schedules", "stg_zendesk__schedule_holidays", "stg_zendesk__time_zones"]
    warehouse.run_dbt(["build", "--select", *models])
    assert db.execute("select schedule_id, schedule_name, time_zone from staging.stg_zendesk__schedules "
                      "order by 1").fetchall() == [(360000101, "Support", "UTC"),
                                                   (360000102, "Americas", "Pacific Time (US & Canada)")]
    # Monday to Friday, 09:00-17:00 and 08:00-18:00, in minutes since Sunday 00:00.
    assert db.execute("""select schedule_id, (span ->> 'start_time')::int, (span ->> 'end_time')::int
                         from staging.stg_zendesk__schedules, jsonb_array_elements(intervals) as span
                         order by 1, 2""").fetchall() == [
        *((360000101, 1440 * day + 540, 1440 * day + 1020) for day in range(1, 6)),
        *((360000102, 1440 * day + 480, 1440 * day + 1080) for day in range(1, 6))]
    assert db.execute("select holiday_id, schedule_id, holiday_name, start_date::text, end_date::text "
                      "from staging.stg_zendesk__schedule_holidays order by 1").fetchall() == [
        (370000001, 360000101, "Founders' Day", "2025-12-25", "2025-12-25"),
        (370000002, 360000101, "Winter break", "2026-01-19", "2026-01-20"),
        (370000003, 360000102, "Founders' Day", "2025-12-25", "2025-12-25")]
    assert dict(db.execute("select time_zone, iana_time_zone from staging.stg_zendesk__time_zones").fetchall()) == ZONES
    # A schedule the account stops serving leaves staging with its hours and holidays.
    api.dropped = True
    for name in ("schedules", "schedule_holidays"):
        run(name, RUN_AT + timedelta(days=1))
    warehouse.run_dbt(["build", "--select", *models])
    assert db.execute("select array_agg(distinct schedule_id) from staging.stg_zendesk__schedule_holidays "
                      "union all select array_agg(schedule_id) from staging.stg_zendesk__schedules").fetchall() == [
        ([360000101],), ([360000101],)]


def test_the_first_schedule_is_the_one_the_simulators_business_minutes_count_in(api):
    support = api.schedules()[0]
    assert support["time_zone"] == "UTC"
    # From Sunday 2026-03-01 00:00 UTC: a week of business minutes is the sum of the served intervals.
    sunday = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())
    assert business_minutes(sunday, sunday + 7 * 86400) == sum(
        i["end_time"] - i["start_time"] for i in support["intervals"]) == 2400
    for interval in support["intervals"]:
        opens, closes = sunday + interval["start_time"] * 60, sunday + interval["end_time"] * 60
        assert business_minutes(opens - 3600, closes + 3600) == interval["end_time"] - interval["start_time"]


def test_the_holidays_list_keeps_those_overlapping_the_dates_asked_both_inclusive(api):
    def names(query: dict) -> list[str]:
        reply = api.handle("GET", "/api/v2/business_hours/schedules/360000101/holidays.json", query,
                           {"Authorization": "Bearer zd-demo-oauth-token"}, b"")
        assert reply.status == 200
        return [holiday["name"] for holiday in reply.body["holidays"]]

    assert names({}) == ["Founders' Day", "Winter break"]
    # A holiday already running on start_date is listed; one ending the day before is not.
    assert names({"start_date": ["2026-01-20"]}) == ["Winter break"]
    assert names({"start_date": ["2025-12-26"], "end_date": ["2026-01-18"]}) == []
    assert names({"end_date": ["2025-12-25"]}) == ["Founders' Day"]
    unknown = api.handle("GET", "/api/v2/business_hours/schedules/1/holidays", {},
                         {"Authorization": "Bearer zd-demo-oauth-token"}, b"")
    assert (unknown.status, unknown.body["error"]) == (404, "RecordNotFound")


def test_every_zone_a_schedule_or_a_user_is_in_is_listed_with_its_iana_zone(api):
    listed = {zone["name"]: zone["iana_name"] for zone in api.time_zones()}
    used = {schedule["time_zone"] for schedule in api.schedules()}
    used |= {user["time_zone"] for user in api.records("users")}
    assert used == {"UTC", "Pacific Time (US & Canada)", "London", "Paris", "Warsaw", "Tehran", "Beijing"}
    assert used <= listed.keys()
    assert (listed["UTC"], listed["Pacific Time (US & Canada)"]) == ("Etc/UTC", "America/Los_Angeles")
