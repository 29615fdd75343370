"""The suites, written with the GX 1.x API; `python -m expectations.suites` writes their JSON.

The JSON files beside this module are what the gate loads and what reviewers diff; a test
fails when they drift from the definitions here. Severity is GX's own expectation field:
`critical` quarantines the batch, `warning` is recorded and the run goes on.
"""

from __future__ import annotations

import json
from pathlib import Path

import great_expectations as gx
import great_expectations.expectations as gxe

HERE = Path(__file__).resolve().parent
CRITICAL, WARNING = "critical", "warning"
ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"
EMAIL = r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$"


def _not_in_future(column: str) -> gxe.UnexpectedRowsExpectation:
    return gxe.UnexpectedRowsExpectation(
        unexpected_rows_query=f"select * from {{batch}} where {column} > now()",
        description=f"{column} is not in the future",
        severity=CRITICAL,
    )


def _keyed(repeats: str = CRITICAL) -> list:
    """The natural key is present and unique within the batch.

    `repeats=WARNING` for exports documented to return a record twice when it changes while the
    export runs: the loader keeps the newest version, so a repeat there is no reason to quarantine.
    """
    return [gxe.ExpectColumnValuesToNotBeNull(column="record_key", severity=CRITICAL),
            gxe.ExpectColumnValuesToBeUnique(column="record_key", severity=repeats)]


def _timestamp(text_column: str, parsed_column: str) -> list:
    """The source's timestamp is present, ISO 8601, and not in the future."""
    return [gxe.ExpectColumnValuesToNotBeNull(column=text_column, severity=CRITICAL),
            gxe.ExpectColumnValuesToMatchRegex(column=text_column, regex=ISO_TIMESTAMP, severity=CRITICAL),
            _not_in_future(parsed_column)]


def _ordered(earlier: str, later: str) -> gxe.UnexpectedRowsExpectation:
    return gxe.UnexpectedRowsExpectation(
        unexpected_rows_query=f"select * from {{batch}} where {later} < {earlier}",
        description=f"{later} is not before {earlier}",
        severity=CRITICAL,
    )


def _email() -> gxe.ExpectColumnValuesToMatchRegex:
    return gxe.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL, severity=WARNING)


def _scale(column: str, low: int, high: int) -> gxe.ExpectColumnValuesToBeBetween:
    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high, severity=CRITICAL)


def typeform_responses() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="typeform_responses", expectations=[
        *_keyed(),
        *_timestamp("submitted_at", "submitted_at_ts"),
        gxe.ExpectColumnValuesToNotBeNull(column="form_id", severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column="nps_type", value_set=["number"], severity=CRITICAL),
        _scale("nps", 0, 10),
        _scale("csat", 1, 5),
        _scale("ces", 1, 7),
        _email(),
    ])


def hubspot_contacts() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="hubspot_contacts", expectations=[
        *_keyed(), *_timestamp("updated_at", "updated_at_ts"), _email()])


def hubspot_companies() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="hubspot_companies", expectations=[
        *_keyed(), *_timestamp("updated_at", "updated_at_ts"),
        gxe.ExpectColumnValuesToNotBeNull(column="name", severity=WARNING)])


def hubspot_deals() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="hubspot_deals", expectations=[
        *_keyed(), *_timestamp("updated_at", "updated_at_ts"),
        gxe.ExpectColumnValuesToMatchRegex(column="amount_text", regex=r"^-?\d+(\.\d+)?$", severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=0, severity=CRITICAL),
        gxe.ExpectColumnValuesToNotBeNull(column="dealstage", severity=WARNING)])


def zendesk_tickets() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="zendesk_tickets", expectations=[
        *_keyed(repeats=WARNING), *_timestamp("updated_at", "updated_at_ts"),
        _ordered("created_at_ts", "updated_at_ts"),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=[
            "new", "open", "pending", "hold", "solved", "closed", "deleted"], severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column="satisfaction_score", value_set=[
            "offered", "unoffered", "good", "bad"], severity=CRITICAL)])


def zendesk_users() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="zendesk_users", expectations=[
        *_keyed(repeats=WARNING), *_timestamp("updated_at", "updated_at_ts"), _email()])


def zendesk_ticket_metrics() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="zendesk_ticket_metrics", expectations=[
        *_keyed(), *_timestamp("updated_at", "updated_at_ts"),
        gxe.ExpectColumnValuesToNotBeNull(column="ticket_id", severity=CRITICAL),
        _ordered("created_at_ts", "solved_at_ts"),
        gxe.ExpectColumnValuesToBeBetween(column="reply_minutes", min_value=0, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="resolution_minutes", min_value=0, severity=CRITICAL)])


def zendesk_satisfaction_ratings() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="zendesk_satisfaction_ratings", expectations=[
        *_keyed(), *_timestamp("updated_at", "updated_at_ts"),
        gxe.ExpectColumnValuesToNotBeNull(column="ticket_id", severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column="score", value_set=["offered", "unoffered", "good", "bad"],
                                        severity=CRITICAL)])


def trustpilot_reviews() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="trustpilot_reviews", expectations=[
        *_keyed(), *_timestamp("created_at", "created_at_ts"),
        gxe.ExpectColumnValuesToBeInSet(column="stars_type", value_set=["number"], severity=CRITICAL),
        gxe.ExpectColumnValuesToNotBeNull(column="stars", severity=CRITICAL),
        _scale("stars", 1, 5),
        gxe.ExpectColumnValuesToNotBeNull(column="language", severity=WARNING),
        _email()])


def files_records() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="files_records", expectations=[
        *_keyed(),
        gxe.ExpectColumnValuesToNotBeNull(column="dataset", severity=CRITICAL),
        gxe.ExpectColumnValuesToNotBeNull(column="file_sha256", severity=CRITICAL),
        _scale("audit_score", 0, 100),
        _scale("nps", 0, 10),
        _email()])


SUITES = {suite.__name__: suite for suite in (
    typeform_responses, hubspot_contacts, hubspot_companies, hubspot_deals, zendesk_tickets, zendesk_users,
    zendesk_ticket_metrics, zendesk_satisfaction_ratings, trustpilot_reviews, files_records)}


def suite_json(name: str) -> str:
    return json.dumps(SUITES[name]().to_json_dict(), indent=2, ensure_ascii=False) + "\n"


def write_all() -> list[Path]:
    written = []
    for name in SUITES:
        path = HERE / f"{name}.json"
        path.write_text(suite_json(name))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all():
        print(f"wrote {path}")
