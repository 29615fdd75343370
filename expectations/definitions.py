"""The suites, written with the GX 1.x API; `python -m expectations write-suites` writes their JSON.

The JSON files in `suites/` are what the gate loads and what reviewers diff; a test fails
when they drift from the definitions here. Severity is GX's own expectation field:
`critical` quarantines the batch, `warning` is recorded and the run goes on.
"""

from __future__ import annotations

import json
from pathlib import Path

import great_expectations as gx
import great_expectations.expectations as gxe

SUITES_DIR = Path(__file__).resolve().parent / "suites"
CRITICAL, WARNING = "critical", "warning"
ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
EMAIL = r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$"
# Below this share of well-formed addresses the export is broken, not a customer's typo.
EMAIL_MOSTLY = 0.9
# The volume bound's parameter: the gate sets it from the stream's own recent batches.
MIN_ROWS = "min_expected_rows"

# The top-level fields each API documents (and cxloop adds). Anything else is schema drift: the
# record keeps it in raw's jsonb, and the gate reports it as a warning. File drops have no fixed
# schema (their columns come from the connection's config), so they have no list.
KNOWN_FIELDS: dict[str, list[str]] = {
    "typeform_responses": [
        "_form_id", "_metrics", "answers", "calculated", "hidden", "landed_at", "landing_id", "metadata",
        "response_id", "response_type", "staged_at", "submitted_at", "tags", "thankyou_screen_ref", "token",
        "variables"],
    "hubspot_contacts": ["archived", "archivedAt", "associations", "createdAt", "id", "objectWriteTraceId",
                         "properties", "propertiesWithHistory", "updatedAt", "url"],
    "zendesk_tickets": [
        "allow_attachments", "allow_channelback", "assignee_id", "brand_id", "collaborator_ids", "created_at",
        "custom_fields", "custom_status_id", "description", "due_at", "email_cc_ids", "encoded_id", "external_id",
        "fields", "follower_ids", "followup_ids", "forum_topic_id", "from_messaging_channel", "generated_timestamp",
        "group_id", "has_incidents", "id", "is_public", "organization_id", "priority", "problem_id", "raw_subject",
        "recipient", "requester_id", "result_type", "satisfaction_rating", "sharing_agreement_ids", "status",
        "subject", "submitter_id", "tags", "ticket_form_id", "type", "updated_at", "url", "via",
        "via_followup_source_id"],
    "zendesk_users": [
        "active", "alias", "chat_only", "created_at", "custom_role_id", "default_group_id", "details", "email",
        "external_id", "iana_time_zone", "id", "last_login_at", "locale", "locale_id", "moderator", "name", "notes",
        "only_private_comments", "organization_id", "phone", "photo", "report_csv", "restricted_agent",
        "result_type", "role", "role_type", "shared", "shared_agent", "shared_phone_number", "signature",
        "suspended", "tags", "ticket_restriction", "time_zone", "two_factor_auth_enabled", "updated_at", "url",
        "user_fields", "verified"],
    "zendesk_ticket_metrics": [
        "agent_wait_time_in_minutes", "assigned_at", "assignee_stations", "assignee_updated_at", "created_at",
        "custom_status_updated_at", "first_resolution_time_in_minutes", "full_resolution_time_in_minutes",
        "group_stations", "id", "initially_assigned_at", "latest_comment_added_at", "on_hold_time_in_minutes",
        "reopens", "replies", "reply_time_in_minutes", "requester_updated_at", "requester_wait_time_in_minutes",
        "solved_at", "status_updated_at", "ticket_id", "updated_at", "url"],
    "zendesk_satisfaction_ratings": [
        "assignee_id", "comment", "created_at", "group_id", "id", "reason", "reason_code", "reason_id",
        "requester_id", "score", "ticket_id", "updated_at", "url"],
    "trustpilot_reviews": [
        "businessUnit", "businessUnitHistory", "companyReply", "complianceLabels", "consumer",
        "countsTowardsLocationTrustScore", "countsTowardsTrustScore", "createdAt", "experiencedAt", "id",
        "invitation", "isVerified", "language", "links", "location", "numberOfLikes", "referenceId",
        "referralEmail", "reportData", "reviewVerificationLevel", "source", "stars", "status", "tags", "text",
        "title", "updatedAt"],
}
KNOWN_FIELDS["hubspot_companies"] = KNOWN_FIELDS["hubspot_deals"] = KNOWN_FIELDS["hubspot_contacts"]
KNOWN_FIELDS["zendesk_sla_policies"] = ["created_at", "description", "filter", "id", "policy_metrics", "position",
                                        "title", "updated_at", "url"]
KNOWN_FIELDS["zendesk_ticket_metric_events"] = ["deleted", "group_sla", "id", "instance_id", "metric", "sla",
                                                "status", "ticket_id", "time", "type"]
# A comment child event of the ticket events export, with what the connector adds from its event.
KNOWN_FIELDS["zendesk_ticket_comments"] = [
    "_event_id", "_event_timestamp", "attachments", "audit_id", "author_id", "body", "created_at", "event_type",
    "html_body", "id", "metadata", "plain_body", "public", "ticket_id", "type", "via", "via_reference_id"]
KNOWN_FIELDS["zendesk_schedules"] = ["created_at", "id", "intervals", "name", "time_zone", "updated_at"]
# A holiday as served, with what the connector adds: its schedule and its change time.
KNOWN_FIELDS["zendesk_schedule_holidays"] = ["_updated_at", "end_date", "id", "name", "schedule_id", "start_date"]
KNOWN_FIELDS["zendesk_time_zones"] = ["_updated_at", "formatted_offset", "iana_name", "name", "offset",
                                      "translated_name"]
COMMENT_EVENT_TYPES = ["Comment", "VoiceComment"]
METRIC_EVENT_METRICS = ["agent_work_time", "pausable_update_time", "periodic_update_time", "reply_time",
                        "requester_wait_time", "resolution_time", "group_ownership_time"]
METRIC_EVENT_TYPES = ["activate", "pause", "fulfill", "apply_sla", "apply_group_sla", "breach", "update_status",
                      "measure"]
KNOWN_FIELDS["hubspot_line_items"] = KNOWN_FIELDS["hubspot_products"] = KNOWN_FIELDS["hubspot_contacts"]
KNOWN_FIELDS["hubspot_deal_pipelines"] = ["archived", "archivedAt", "createdAt", "displayOrder", "id", "label",
                                          "stages", "updatedAt"]
KNOWN_FIELDS["hubspot_owners"] = ["archived", "createdAt", "email", "firstName", "id", "lastName", "teams", "type",
                                  "updatedAt", "userId", "userIdIncludingInactive"]


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


def _email() -> list:
    """Every malformed address is reported; a batch where many are malformed is a broken export."""
    return [gxe.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL, severity=WARNING),
            gxe.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL, mostly=EMAIL_MOSTLY, severity=CRITICAL)]


def _scale(column: str, low: int, high: int) -> gxe.ExpectColumnValuesToBeBetween:
    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high, severity=CRITICAL)


def _raw_suite(name: str, *expectations) -> gx.ExpectationSuite:
    """A raw stream's suite: its own checks, plus schema drift and volume, both warnings."""
    checks = list(expectations)
    meta = {}
    if name in KNOWN_FIELDS:
        meta["known_fields"] = sorted(KNOWN_FIELDS[name])
        checks.append(gxe.ExpectColumnValuesToBeNull(
            column="unknown_fields", severity=WARNING,
            description="no top-level field the API does not document (schema drift; kept in raw)"))
    checks.append(gxe.ExpectTableRowCountToBeBetween(
        min_value={"$PARAMETER": MIN_ROWS}, severity=WARNING,
        description="not far fewer rows than this stream's recent batches"))
    return gx.ExpectationSuite(name=name, expectations=checks, meta=meta)


def typeform_responses() -> gx.ExpectationSuite:
    return _raw_suite("typeform_responses",
        *_keyed(),
        *_timestamp("submitted_at", "submitted_at_ts"),
        gxe.ExpectColumnValuesToNotBeNull(column="form_id", severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column="nps_type", value_set=["number"], severity=CRITICAL),
        _scale("nps", 0, 10),
        _scale("csat", 1, 5),
        _scale("ces", 1, 7),
        *_email(),
    )


def hubspot_contacts() -> gx.ExpectationSuite:
    return _raw_suite("hubspot_contacts",
        *_keyed(), *_timestamp("updated_at", "updated_at_ts"), *_email())


def hubspot_companies() -> gx.ExpectationSuite:
    return _raw_suite("hubspot_companies",
        *_keyed(), *_timestamp("updated_at", "updated_at_ts"),
        gxe.ExpectColumnValuesToNotBeNull(column="name", severity=WARNING))


def hubspot_deals() -> gx.ExpectationSuite:
    return _raw_suite("hubspot_deals",
        *_keyed(), *_timestamp("updated_at", "updated_at_ts"),
        gxe.ExpectColumnValuesToMatchRegex(column="amount_text", regex=r"^-?\d+(\.\d+)?$", severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=0, severity=CRITICAL),
        gxe.ExpectColumnValuesToNotBeNull(column="dealstage", severity=WARNING))


def hubspot_deal_pipelines() -> gx.ExpectationSuite:
    # A closed stage that is neither won nor lost would leave its deals' outcome unknown.
    return _raw_suite("hubspot_deal_pipelines",
        *_keyed(), *_timestamp("updated_at", "updated_at_ts"),
        gxe.ExpectColumnValuesToBeBetween(column="stages", min_value=1, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="closed_stages_without_outcome", max_value=0, severity=WARNING))


def hubspot_owners() -> gx.ExpectationSuite:
    return _raw_suite("hubspot_owners",
        *_keyed(), *_timestamp("updated_at", "updated_at_ts"), *_email())


def hubspot_line_items() -> gx.ExpectationSuite:
    return _raw_suite("hubspot_line_items",
        *_keyed(), *_timestamp("updated_at", "updated_at_ts"),
        gxe.ExpectColumnValuesToMatchRegex(column="amount_text", regex=r"^-?\d+(\.\d+)?$", severity=CRITICAL),
        # A line item can belong to a quote instead of a deal: reported, not quarantined.
        gxe.ExpectColumnValuesToNotBeNull(column="deal_id", severity=WARNING))


def hubspot_products() -> gx.ExpectationSuite:
    return _raw_suite("hubspot_products",
        *_keyed(), *_timestamp("updated_at", "updated_at_ts"),
        gxe.ExpectColumnValuesToNotBeNull(column="name", severity=WARNING),
        gxe.ExpectColumnValuesToNotBeNull(column="category", severity=WARNING))


def zendesk_tickets() -> gx.ExpectationSuite:
    return _raw_suite("zendesk_tickets",
        *_keyed(repeats=WARNING), *_timestamp("updated_at", "updated_at_ts"),
        _ordered("created_at_ts", "updated_at_ts"),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=[
            "new", "open", "pending", "hold", "solved", "closed", "deleted"], severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column="satisfaction_score", value_set=[
            "offered", "unoffered", "good", "bad"], severity=CRITICAL))


def zendesk_users() -> gx.ExpectationSuite:
    return _raw_suite("zendesk_users",
        *_keyed(repeats=WARNING), *_timestamp("updated_at", "updated_at_ts"), *_email())


def zendesk_ticket_metrics() -> gx.ExpectationSuite:
    return _raw_suite("zendesk_ticket_metrics",
        *_keyed(), *_timestamp("updated_at", "updated_at_ts"),
        gxe.ExpectColumnValuesToNotBeNull(column="ticket_id", severity=CRITICAL),
        _ordered("created_at_ts", "solved_at_ts"),
        gxe.ExpectColumnValuesToBeBetween(column="reply_minutes", min_value=0, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="resolution_minutes", min_value=0, severity=CRITICAL))


def zendesk_satisfaction_ratings() -> gx.ExpectationSuite:
    return _raw_suite("zendesk_satisfaction_ratings",
        *_keyed(), *_timestamp("updated_at", "updated_at_ts"),
        gxe.ExpectColumnValuesToNotBeNull(column="ticket_id", severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column="score", value_set=["offered", "unoffered", "good", "bad"],
                                        severity=CRITICAL))


def zendesk_sla_policies() -> gx.ExpectationSuite:
    return _raw_suite("zendesk_sla_policies",
        *_keyed(), *_timestamp("updated_at", "updated_at_ts"),
        _ordered("created_at_ts", "updated_at_ts"),
        gxe.ExpectColumnValuesToNotBeNull(column="title", severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column="policy_metrics_type", value_set=["array"], severity=CRITICAL))


def zendesk_ticket_metric_events() -> gx.ExpectationSuite:
    # The time-based export serves its pages' last second twice: a repeat is no reason to quarantine.
    return _raw_suite("zendesk_ticket_metric_events",
        *_keyed(repeats=WARNING), *_timestamp("time", "time_ts"),
        gxe.ExpectColumnValuesToNotBeNull(column="ticket_id", severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column="metric", value_set=METRIC_EVENT_METRICS, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column="type", value_set=METRIC_EVENT_TYPES, severity=CRITICAL))


def zendesk_schedules() -> gx.ExpectationSuite:
    # A schedule without its zone or with an interval outside the week cannot count business minutes.
    return _raw_suite("zendesk_schedules",
        *_keyed(), *_timestamp("updated_at", "updated_at_ts"),
        _ordered("created_at_ts", "updated_at_ts"),
        gxe.ExpectColumnValuesToNotBeNull(column="time_zone", severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column="intervals_type", value_set=["array"], severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="intervals_outside_the_week", max_value=0, severity=CRITICAL))


def zendesk_schedule_holidays() -> gx.ExpectationSuite:
    return _raw_suite("zendesk_schedule_holidays",
        *_keyed(), *_timestamp("_updated_at", "updated_at_ts"),
        gxe.ExpectColumnValuesToNotBeNull(column="schedule_id", severity=CRITICAL),
        gxe.ExpectColumnValuesToMatchRegex(column="start_date", regex=ISO_DATE, severity=CRITICAL),
        gxe.ExpectColumnValuesToMatchRegex(column="end_date", regex=ISO_DATE, severity=CRITICAL),
        _ordered("start_date_d", "end_date_d"))


def zendesk_time_zones() -> gx.ExpectationSuite:
    return _raw_suite("zendesk_time_zones",
        *_keyed(), *_timestamp("_updated_at", "updated_at_ts"),
        gxe.ExpectColumnValuesToNotBeNull(column="iana_name", severity=CRITICAL))


def zendesk_ticket_comments() -> gx.ExpectationSuite:
    # Time-based pages serve their last second again: a repeat is no reason to quarantine. A
    # comment with no author is still a comment, but no one's verbatim: reported, not quarantined.
    return _raw_suite("zendesk_ticket_comments",
        *_keyed(repeats=WARNING), *_timestamp("created_at", "created_at_ts"),
        gxe.ExpectColumnValuesToNotBeNull(column="ticket_id", severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column="event_type", value_set=COMMENT_EVENT_TYPES, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column="public_type", value_set=["boolean"], severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column="body_type", value_set=["string"], severity=CRITICAL),
        gxe.ExpectColumnValuesToNotBeNull(column="author_id", severity=WARNING))


def trustpilot_reviews() -> gx.ExpectationSuite:
    return _raw_suite("trustpilot_reviews",
        *_keyed(), *_timestamp("created_at", "created_at_ts"),
        gxe.ExpectColumnValuesToBeInSet(column="stars_type", value_set=["number"], severity=CRITICAL),
        gxe.ExpectColumnValuesToNotBeNull(column="stars", severity=CRITICAL),
        _scale("stars", 1, 5),
        gxe.ExpectColumnValuesToNotBeNull(column="language", severity=WARNING),
        *_email())


def files_records() -> gx.ExpectationSuite:
    return _raw_suite("files_records",
        *_keyed(),
        gxe.ExpectColumnValuesToNotBeNull(column="dataset", severity=CRITICAL),
        gxe.ExpectColumnValuesToNotBeNull(column="file_sha256", severity=CRITICAL),
        _scale("audit_score", 0, 100),
        _scale("nps", 0, 10),
        *_email())


# -- marts: checked after each dbt build, on the tables BI tools read ---------------------------
# A mart suite fails the run when a critical check fails (the KPI would be wrong on a dashboard);
# there is no batch to quarantine, the previous good build is what dbt's contract protects.

def _never(description: str, where: str) -> gxe.UnexpectedRowsExpectation:
    return gxe.UnexpectedRowsExpectation(unexpected_rows_query=f"select * from {{batch}} where {where}",
                                         description=description, severity=CRITICAL)


def _populated() -> gxe.ExpectTableRowCountToBeBetween:
    return gxe.ExpectTableRowCountToBeBetween(min_value=1, severity=WARNING, description="the mart is not empty")


def mart_kpi_nps_daily() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="mart_kpi_nps_daily", expectations=[
        _populated(),
        gxe.ExpectColumnValuesToBeBetween(column="nps", min_value=-100, max_value=100, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="responses", min_value=1, severity=CRITICAL),
        _never("promoters + passives + detractors = responses",
               "promoters + passives + detractors <> responses")])


def mart_kpi_csat_daily() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="mart_kpi_csat_daily", expectations=[
        _populated(),
        gxe.ExpectColumnValuesToBeBetween(column="csat_pct", min_value=0, max_value=100, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="ratings", min_value=1, severity=CRITICAL),
        _never("satisfied <= ratings", "satisfied > ratings")])


def mart_kpi_ces_daily() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="mart_kpi_ces_daily", expectations=[
        _populated(),
        gxe.ExpectColumnValuesToBeBetween(column="avg_effort", min_value=1, max_value=7, severity=CRITICAL),
        _never("low_effort <= responses", "low_effort > responses")])


def mart_kpi_reviews_daily() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="mart_kpi_reviews_daily", expectations=[
        _populated(),
        gxe.ExpectColumnValuesToBeBetween(column="avg_stars", min_value=1, max_value=5, severity=CRITICAL),
        _never("negative_reviews <= reviews", "negative_reviews > reviews")])


def mart_kpi_support_daily() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="mart_kpi_support_daily", expectations=[
        _populated(),
        gxe.ExpectColumnValuesToBeBetween(column="backlog_open", min_value=0, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="median_first_reply_minutes", min_value=0, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="median_full_resolution_minutes", min_value=0, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="median_first_reply_business_minutes", min_value=0,
                                          severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="median_full_resolution_business_minutes", min_value=0,
                                          severity=CRITICAL),
        _never("reopened <= tickets_solved", "reopened > tickets_solved")])


def mart_customer_health() -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name="mart_customer_health", expectations=[
        _populated(),
        gxe.ExpectColumnValuesToBeUnique(column="customer_id", severity=CRITICAL),
        gxe.ExpectColumnValuesToBeBetween(column="health_score", min_value=0, max_value=100, severity=CRITICAL),
        gxe.ExpectColumnValuesToBeInSet(column="churn_risk", value_set=["low", "medium", "high"],
                                        severity=CRITICAL)])


RAW_SUITES = {suite.__name__: suite for suite in (
    typeform_responses, hubspot_contacts, hubspot_companies, hubspot_deals, hubspot_deal_pipelines, hubspot_owners,
    hubspot_line_items, hubspot_products, zendesk_tickets, zendesk_users,
    zendesk_ticket_metrics, zendesk_satisfaction_ratings, zendesk_sla_policies, zendesk_ticket_metric_events,
    zendesk_ticket_comments, zendesk_schedules, zendesk_schedule_holidays, zendesk_time_zones, trustpilot_reviews,
    files_records)}
# Suite name -> the mart table it checks.
MART_SUITES = {suite.__name__: suite for suite in (
    mart_kpi_nps_daily, mart_kpi_csat_daily, mart_kpi_ces_daily, mart_kpi_reviews_daily, mart_kpi_support_daily,
    mart_customer_health)}
SUITES = {**RAW_SUITES, **MART_SUITES}


def mart_table(suite_name: str) -> str:
    return suite_name.removeprefix("mart_")


def suite_json(name: str) -> str:
    return json.dumps(SUITES[name]().to_json_dict(), indent=2, ensure_ascii=False) + "\n"


def write_all() -> list[Path]:
    written = []
    for name in SUITES:
        path = SUITES_DIR / f"{name}.json"
        path.write_text(suite_json(name))
        written.append(path)
    return written
