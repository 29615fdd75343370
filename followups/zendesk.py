"""Follow-up tickets in Zendesk: looked up by external id, created with the Tickets API.

Two guards against a second ticket (docs/api-protocols.md, "Creating tickets, idempotency"): the
POST carries an `Idempotency-Key` derived from the external id, so the connection's retries of a
POST whose answer was lost (a timeout, a 5xx) return the ticket already created, within Zendesk's
two-hour retention; and every attempt, on any night, first looks the ticket up by its external
id, which holds after those two hours too.
"""

from __future__ import annotations

import hashlib
from typing import Any

from followups.outbox import Intent
from followups.settings import FollowupSettings
from ingest import zendesk
from ingest.http import HttpClient, SourceHTTPError

STREAM = "followups"


def idempotency_key(external_id: str) -> str:
    """The same key for every attempt at one follow-up, and under Zendesk's 255 characters."""
    return "cxloop-" + hashlib.sha256(external_id.encode()).hexdigest()


class ZendeskDesk:
    def __init__(self, client: HttpClient) -> None:
        self.client = client

    def find(self, external_id: str) -> str | None:
        body = self.client.get_json("tickets.json", params={"external_id": external_id}, stream=STREAM)
        tickets = body.get("tickets") if isinstance(body, dict) else None
        if not isinstance(tickets, list):
            raise SourceHTTPError(zendesk.SOURCE, STREAM, self.client.url("tickets.json"),
                                  "the ticket lookup by external_id did not answer a tickets list")
        # Zendesk does not enforce unique external ids: the oldest is the follow-up.
        ids = sorted(t["id"] for t in tickets if isinstance(t, dict) and t.get("external_id") == external_id)
        return str(ids[0]) if ids else None

    def create(self, intent: Intent, settings: FollowupSettings) -> str:
        ticket: dict[str, Any] = {
            "subject": intent.subject,
            # An internal note: the customer hears from a person, not from this text.
            "comment": {"body": intent.body, "public": False},
            "external_id": intent.external_id,
            "tags": [settings.tag, intent.reason],
            "priority": settings.priority,
        }
        if intent.requester_id is not None:
            ticket["requester_id"] = intent.requester_id
        else:
            name = intent.requester_name or intent.requester_email
            ticket["requester"] = {"email": intent.requester_email, "name": name}
        if settings.group_id is not None:
            ticket["group_id"] = settings.group_id
        body = self.client.post_json("tickets.json", {"ticket": ticket}, stream=STREAM,
                                     headers={"Idempotency-Key": idempotency_key(intent.external_id)})
        created = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(created, dict) or created.get("id") is None:
            raise SourceHTTPError(zendesk.SOURCE, STREAM, self.client.url("tickets.json"),
                                  "the ticket creation did not answer the created ticket")
        return str(created["id"])


def from_connection(conn: Any) -> ZendeskDesk:
    """The help desk of connection cxloop_zendesk (its client, credentials and retry policy)."""
    return ZendeskDesk(zendesk.from_connection(conn).client)
