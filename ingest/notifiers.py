"""Airflow notifiers configured by environment, for whatever cxloop tells people about.

Each kind of message (a failed task, the night's critical alerts) has its own notifier
variables, so failures can go to the data team and alerts to the CX team: `CXLOOP_<KIND>_NOTIFIER`
names any Airflow notifier class (e.g. the Slack provider's) and `CXLOOP_<KIND>_NOTIFIER_ARGS` its
keyword arguments as JSON; their templated fields are rendered against the task's context and
the message's own fields. `CXLOOP_NOTIFY_EMAIL` sends every kind by mail through Airflow's SMTP
connection. A notifier that cannot be built or fails is logged, never raised: it must not hide
what it reports.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

EMAIL_VARIABLE = "CXLOOP_NOTIFY_EMAIL"


def _variable(kind: str) -> str:
    return f"CXLOOP_{kind.upper()}_NOTIFIER"


def build(kind: str, subject: str, html_content: str) -> list[Any]:
    """The notifiers configured for `kind`: mail (with this subject and body template) and/or the named class."""
    notifiers = []
    email = os.environ.get(EMAIL_VARIABLE)
    if email:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        notifiers.append(SmtpNotifier(to=email, subject=subject, html_content=html_content))
    dotted = os.environ.get(_variable(kind))
    if dotted:
        module, _, name = dotted.rpartition(".")
        notifier_class = getattr(importlib.import_module(module), name)
        notifiers.append(notifier_class(**json.loads(os.environ.get(f"{_variable(kind)}_ARGS", "{}"))))
    return notifiers


def send(kind: str, subject: str, html_content: str, context: Mapping[str, Any]) -> int:
    """Send one message of `kind` through every configured notifier; how many sent it."""
    try:
        notifiers = build(kind, subject, html_content)
    except Exception:  # a misconfigured notifier must not hide what it reports
        log.exception("cannot build the %s notifiers from %s / %s", kind, EMAIL_VARIABLE, _variable(kind))
        return 0
    sent = 0
    for notifier in notifiers:
        try:
            notifier(dict(context))
            sent += 1
        except Exception:  # a broken notifier must not hide what it reports
            log.exception("%s notifier %s failed", kind, type(notifier).__name__)
    return sent
