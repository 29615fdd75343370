"""Notifications: each kind of message goes through the notifiers configured for it, rendered, and
a broken notifier never hides what it reports."""

from __future__ import annotations

import pytest

from ingest import failures, notifiers
from tests.doubles import Recorder


@pytest.fixture(autouse=True)
def no_notifiers(monkeypatch):
    for name in ("CXLOOP_NOTIFY_EMAIL", "CXLOOP_FAILURE_NOTIFIER", "CXLOOP_ALERTS_NOTIFIER"):
        monkeypatch.delenv(name, raising=False)
    Recorder.sent.clear()


def test_a_kinds_notifier_class_renders_the_message_from_the_context(monkeypatch):
    monkeypatch.setenv("CXLOOP_ALERTS_NOTIFIER", "tests.doubles.Recorder")
    monkeypatch.setenv("CXLOOP_ALERTS_NOTIFIER_ARGS", '{"text": "CX: {{ critical_alerts }}"}')
    assert notifiers.send("alerts", "subject", "body", {"critical_alerts": "2 critical alerts"}) == 1
    assert Recorder.sent == ["CX: 2 critical alerts"]


def test_each_kind_has_its_own_notifiers(monkeypatch):
    monkeypatch.setenv("CXLOOP_ALERTS_NOTIFIER", "tests.doubles.Recorder")
    monkeypatch.setenv("CXLOOP_ALERTS_NOTIFIER_ARGS", '{"text": "alerts"}')
    assert notifiers.send("failure", "subject", "body", {}) == 0
    assert Recorder.sent == []


def test_a_broken_or_misconfigured_notifier_is_logged_not_raised(monkeypatch, caplog):
    monkeypatch.setenv("CXLOOP_ALERTS_NOTIFIER", "tests.doubles.Broken")
    assert notifiers.send("alerts", "subject", "body", {}) == 0
    monkeypatch.setenv("CXLOOP_ALERTS_NOTIFIER", "tests.doubles.NoSuchNotifier")
    assert notifiers.send("alerts", "subject", "body", {}) == 0
    assert "alerts notifier Broken failed" in caplog.text
    assert "cannot build the alerts notifiers" in caplog.text


def test_a_failure_notification_shows_the_masked_error(monkeypatch):
    monkeypatch.setenv("CXLOOP_FAILURE_NOTIFIER", "tests.doubles.Recorder")
    monkeypatch.setenv("CXLOOP_FAILURE_NOTIFIER_ARGS", '{"text": "{{ exception }}"}')
    failures.notify({"exception": ValueError("HTTP 401 for https://x.example/api")})
    assert Recorder.sent == ["ValueError: HTTP 401 for https://x.example/api"]
