"""A night's dbt data tests read the rows that night wrote; a full test still reads every row.

On the hand-built shop: night 1 tests everything; a row spoiled behind dbt's back in an earlier
night is not read by the next night's tests, but is by `full_tests`, while a bad row that
arrives tonight fails tonight's build.
"""

from __future__ import annotations

import contextlib
import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from ingest import warehouse
from tests.shop import at, empty_warehouse, land, land_the_shop, ticket
from tests.shop import dbt as run_dbt

pytestmark = pytest.mark.integration

STATUS_TEST = "accepted_values_stg_zendesk__tickets_status"


def build(target: Path, *args: str) -> dict[str, str]:
    """`dbt build` of the staging models; the status of each of their data tests, by name prefix."""
    with contextlib.suppress(RuntimeError):  # the statuses say which test failed
        run_dbt("build", "--select", "staging", "--target-path", str(target), *args)
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[2]: r["status"] for r in results if r["unique_id"].startswith("test.")}


def status_of(results: dict[str, str], prefix: str) -> str:
    (status,) = [status for name, status in results.items() if name.startswith(prefix)]
    return status


@pytest.fixture(scope="module")
def conn(warehouse_session, tmp_path_factory):
    empty_warehouse(warehouse_session)
    land_the_shop()
    first = build(tmp_path_factory.mktemp("night-1"))
    assert status_of(first, STATUS_TEST) == "pass"
    with warehouse.connect(warehouse_session, autocommit=True) as db:
        yield db


def test_an_old_row_spoiled_since_is_left_to_the_full_test_and_a_new_bad_row_fails_tonight(conn, tmp_path):
    conn.execute("update staging.stg_zendesk__tickets set status = 'lost' where ticket_id = 1")
    land("zendesk", "tickets", [ticket(900, 70, "email", at(7, 9), "open")])

    tonight = build(tmp_path / "night-2")
    full = build(tmp_path / "full", "--vars", "{full_tests: true}")
    land("zendesk", "tickets", [ticket(901, 70, "email", at(7, 10), "misplaced")])
    bad_tonight = build(tmp_path / "night-3")

    assert status_of(tonight, STATUS_TEST) == "pass"
    assert status_of(full, STATUS_TEST) == "fail"
    assert status_of(bad_tonight, STATUS_TEST) == "fail"


def test_a_nights_test_reads_only_rows_stamped_since_the_models_previous_build(conn, tmp_path):
    land("zendesk", "tickets", [ticket(902, 70, "email", at(8, 9), "open")])
    build(tmp_path)

    compiled = next((tmp_path / "run").rglob("unique_stg_zendesk__tickets_ticket_id.sql")).read_text()
    (since,) = re.findall(r"\"loaded_at\" >= '([^']+)'::timestamptz", compiled)
    previous = conn.execute(
        """select max(builds.started_at) from audit.dbt_model_builds as model_builds
           join audit.dbt_builds as builds using (invocation_id)
           where model = 'stg_zendesk__tickets'
             and builds.started_at < (select max(started_at) from audit.dbt_builds)""").fetchone()[0]
    assert datetime.fromisoformat(since) == previous
