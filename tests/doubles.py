"""Test doubles that record what they were asked: a help desk, and notifiers."""

from __future__ import annotations

from typing import ClassVar

from airflow.sdk import BaseNotifier

from followups import outbox
from followups.settings import FollowupSettings
from ingest.http import SourceHTTPError


class RecordingDesk:
    """Remembers every follow-up it holds, by external id; can be told to fail or to hold one already."""

    def __init__(self) -> None:
        self.tickets: dict[str, str] = {}
        self.creations: list[str] = []
        self.failing: set[str] = set()

    def find(self, external_id: str) -> str | None:
        return self.tickets.get(external_id)

    def create(self, intent: outbox.Intent, settings: FollowupSettings) -> str:
        if intent.external_id in self.failing:
            raise SourceHTTPError("zendesk", "followups", "https://desk.example/api/v2/tickets.json",
                                  "HTTP 422: requester is suspended", status=422)
        ticket_id = str(9000 + len(self.tickets))
        self.tickets[intent.external_id] = ticket_id
        self.creations.append(intent.alert_id)
        return ticket_id


class Recorder(BaseNotifier):
    """A notifier that keeps what it was asked to send (its text is a template, as Slack's is)."""

    template_fields = ("text",)
    sent: ClassVar[list[str]] = []

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def notify(self, context) -> None:
        Recorder.sent.append(self.text)


class Broken(BaseNotifier):
    """A notifier whose service is down."""

    def notify(self, context) -> None:
        raise RuntimeError("the chat service is down")
