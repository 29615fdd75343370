"""No credential lands anywhere, whatever failed (issue #15, Done-when).

Every connector fails in the ways that put text somewhere: an API error whose body echoes the
auth header, a 401 that does the same, a token pasted with its trailing newline, a header
requests refuses to send, pages that never parse, a record that cannot land, and a run killed
with SIGKILL mid-COPY. Each failure is recorded as the DAG's failure callback records it. Then
every place a secret could land is searched for every simulator's secret (as it is, URL-encoded,
and as the Basic credentials built from it): the log output of the runs (this process's and the
killed subprocess's), every text and JSON column of every table in `raw` and `audit`, and the
embedded PostgreSQL server's log file, which receives the message of every aborted COPY.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType, SimpleNamespace
from urllib.parse import quote, quote_plus

import pytest
from psycopg import sql

from ingest import hubspot, runner, trustpilot, typeform, zendesk
from ingest.connections import get_connection
from ingest.http import HttpClient, RetryPolicy
from ingest.streams import Window
from simulators.company import FORMS, NPS_FORM, Company
from simulators.hubspot import HubSpotApi
from simulators.server import Fault, Reply, Simulator
from simulators.trustpilot import DEFAULT_BUSINESS_UNIT_ID, TOKEN_PATH, TrustpilotApi
from simulators.typeform import TypeformApi
from simulators.zendesk import ZendeskApi

COMPANY = Company(customers=20, end=datetime(2026, 3, 10, tzinfo=UTC), days=10)
WINDOW = Window(None, COMPANY.end)
EMAIL = "agent@cxloop.example"
TOKENS = {typeform: "tf-everywhere-9c2e7d41aa", zendesk: "zd-everywhere-3b8f0c62dd",
          hubspot: "hs-everywhere-71e4a9b0cc", trustpilot: "tp-everywhere-58d2f7e3bb"}
# Trustpilot's sign-in for its private endpoint: the API secret and the business user's password.
API_SECRET = "tp-everywhere-secret-4a7c19e2dd"
BUSINESS_USER_PASSWORD = "tp-everywhere-password-e03b6d58ff"
RETRY = {"backoff_initial": 0.0, "backoff_max": 0.0, "jitter": 0.0, "max_attempts": 3, "timeout": [30, 120]}
EXTRA = {typeform: {"form_ids": list(FORMS)}, zendesk: {}, hubspot: {},
         trustpilot: {"business_unit_id": DEFAULT_BUSINESS_UNIT_ID, "api_secret": API_SECRET,
                      "business_user_password": BUSINESS_USER_PASSWORD}}
# Where the faults go: Trustpilot signs in first, and its data comes from the private endpoint.
FAULTED = {trustpilot: "/reviews"}
# 401s in a row that fail a run: Trustpilot answers the first with a new token and asks again.
REFUSALS_TO_FAIL = {trustpilot: 2}
MODULES = [typeform, zendesk, hubspot, trustpilot]
DEADLINE = 300.0
REPO = Path(__file__).resolve().parents[2]
KILLED_RUN = """
import logging, sys
from datetime import datetime
from ingest import runner, typeform
from ingest.streams import Window

logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
typeform.PAGE_SIZE = 5
runner.run_source("typeform", Window(None, datetime.fromisoformat(sys.argv[1])))
"""


def basic(module: ModuleType) -> str:
    if module is trustpilot:  # the token endpoint's client credentials
        return base64.b64encode(f"{TOKENS[trustpilot]}:{API_SECRET}".encode()).decode()
    return base64.b64encode(f"{EMAIL}/token:{TOKENS[module]}".encode()).decode()


def secrets(issued: list[str]) -> dict[str, str]:
    """Every form a simulator's secret could be written in, by what it is; `issued` are the tokens it handed out."""
    named = {f"{module.__name__.split('.')[-1]} token": token for module, token in TOKENS.items()}
    named |= {"trustpilot API secret": API_SECRET, "trustpilot business user's password": BUSINESS_USER_PASSWORD}
    named |= {f"trustpilot issued token {n}": token for n, token in enumerate(issued)}
    found = {}
    for what, secret in named.items():
        found.update({what: secret, f"{what} URL-encoded": quote(secret, safe=""),
                      f"{what} form-encoded": quote_plus(secret)})
    found["zendesk Basic credentials"] = basic(zendesk)
    found["trustpilot Basic credentials"] = basic(trustpilot)
    return found


def echoed_auth(module: ModuleType, server: Simulator) -> dict[str, str]:
    """The auth headers a hostile or careless API quotes back in its error body."""
    if module is zendesk:
        return {"Authorization": f"Basic {basic(zendesk)}"}
    if module is trustpilot:
        # The private endpoint's: the API key and the access token of the latest sign-in (tokens
        # are issued access first, then refresh).
        return {"apikey": TOKENS[trustpilot], "Authorization": f"Bearer {server.api.issued_tokens[-2]}"}
    return {"Authorization": f"Bearer {TOKENS[module]}"}


def echoing(module: ModuleType, server: Simulator, status: int, body: Callable[[dict], dict]) -> Fault:
    """A `status` reply whose `body` quotes the auth headers back, built as the request comes (a token exists then)."""
    return Fault("edit", path_contains=FAULTED.get(module, ""),
                 edit=lambda _: Reply(status, body(echoed_auth(module, server))))


def api_for(module: ModuleType):
    token = TOKENS[module]
    return {typeform: lambda: TypeformApi(COMPANY, token=token), zendesk: lambda: ZendeskApi(COMPANY, EMAIL, token),
            hubspot: lambda: HubSpotApi(COMPANY, token=token),
            trustpilot: lambda: TrustpilotApi(COMPANY, api_key=token, api_secret=API_SECRET, username=EMAIL,
                                              password=BUSINESS_USER_PASSWORD)}[module]()


def connection(module: ModuleType, server: Simulator, password: str | None = None) -> str:
    return json.dumps({"conn_type": "http", "host": server.base_url, "login": EMAIL,
                       "password": TOKENS[module] if password is None else password,
                       "extra": {**EXTRA[module], "retry": RETRY}})


def record_as_the_dag_does(module: ModuleType, exc: BaseException) -> None:
    from dags.cxloop_nightly import _record_failure

    name = module.__name__.split(".")[-1]
    ti = SimpleNamespace(task_id=f"{name}.extract_load", map_index=0, dag_id="cxloop_nightly", run_id="manual__leak",
                         try_number=1)
    _record_failure({"ti": ti, "exception": exc, "dag_run": SimpleNamespace(logical_date=WINDOW.start)})


def fails(module: ModuleType, attempt: Callable[[], object], texts: list[str]) -> None:
    """Run `attempt`, which must fail; record the failure and keep every text it shows."""
    with pytest.raises(Exception) as failed:  # noqa: PT011 - each case fails its own way; all are recorded
        attempt()
    record_as_the_dag_does(module, failed.value)
    texts += [str(failed.value), repr(failed.value), "".join(traceback.format_exception(failed.value))]


def run(module: ModuleType) -> None:
    runner.run_stream(module.from_connection(get_connection(module.CONN_ID)), module.STREAMS[0], WINDOW)


def server_log_files(db) -> list[Path]:
    """The embedded server's log (pg_ctl -l <data>/server.log), and any file its logging collector writes."""
    (data_directory,) = db.execute("show data_directory").fetchone()
    data = Path(data_directory)
    collected = [path for folder in (data / "log", data / "pg_log") if folder.is_dir() for path in folder.iterdir()]
    return [data / "server.log", *collected]


def text_columns(db) -> list[tuple[str, str, str]]:
    return db.execute("""
        select table_schema, table_name, column_name from information_schema.columns
        where table_schema in ('raw', 'audit')
          and data_type in ('text', 'jsonb', 'json', 'character varying', 'character', 'ARRAY', 'USER-DEFINED')
        order by 1, 2, 3""").fetchall()


def held_in_tables(db, secret: str) -> list[str]:
    places = []
    for schema, table, column in text_columns(db):
        query = sql.SQL("select count(*) from {}.{} where position(%s in {}::text) > 0").format(
            sql.Identifier(schema), sql.Identifier(table), sql.Identifier(column))
        if db.execute(query, (secret,)).fetchone()[0]:
            places.append(f"{schema}.{table}.{column}")
    return places


def killed_mid_copy(db, wh, server: Simulator) -> str:
    """A typeform run in a subprocess, killed with SIGKILL while its COPY waits for page 2; its output."""
    db.execute("delete from raw._state where source = 'typeform'")  # all history again: several pages
    release = threading.Event()
    held = Fault("hold", path_contains=f"/forms/{NPS_FORM}/", release=release)
    server.inject(Fault("slow", delay=0.0, path_contains=f"/forms/{NPS_FORM}/"))
    server.inject(held)
    env = {**os.environ, "AIRFLOW_CONN_CXLOOP_TYPEFORM": connection(typeform, server),
           "AIRFLOW_CONN_CXLOOP_WAREHOUSE": json.dumps({
               "conn_type": "postgres", "host": wh.host, "port": wh.port, "login": wh.user, "schema": wh.dbname})}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, WINDOW.end.isoformat()], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        give_up = time.monotonic() + DEADLINE
        while not held.reached.wait(0.05):
            assert proc.poll() is None and time.monotonic() < give_up, "the run ended before it reached page 2"
        while not db.execute("select count(*) from pg_stat_activity where application_name = %s and query ilike "
                             "'copy _incoming%%'", (runner.LANDING_APPLICATION_NAME,)).fetchone()[0]:
            assert time.monotonic() < give_up, "the killed run never reached its COPY"
            time.sleep(0.05)
        proc.kill()
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate(timeout=DEADLINE)
    assert "typeform.responses: reading" in out + err  # its log output was captured
    return out + err


def test_no_secret_lands_in_logs_tables_or_the_server_log_whatever_failed(db, wh, monkeypatch, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(typeform, "PAGE_SIZE", 5)
    texts: list[str] = []
    with ExitStack() as stack:
        servers = {module: stack.enter_context(Simulator(api_for(module))) for module in MODULES}
        for module, server in servers.items():
            monkeypatch.setenv(f"AIRFLOW_CONN_{module.CONN_ID.upper()}", connection(module, server))
        for module, server in servers.items():
            faulted = FAULTED.get(module, "")
            # An API error whose body quotes the auth header back.
            server.inject(echoing(module, server, 400, lambda auth: {"error": "bad request", "received": auth}))
            fails(module, lambda m=module: run(m), texts)
            # A 401 doing the same (twice for Trustpilot, which renews its token once after a 401).
            server.inject(echoing(module, server, 401, lambda auth: {"error": "invalid credentials", **auth}),
                          times=REFUSALS_TO_FAIL.get(module, 1))
            fails(module, lambda m=module: run(m), texts)
            # Pages that never parse, until the client gives up.
            server.inject(Fault("malformed_page", path_contains=faulted), times=RETRY["max_attempts"])
            fails(module, lambda m=module: run(m), texts)
            # A 5xx whose body quotes the header: retried, then given up on.
            server.inject(echoing(module, server, 503, lambda auth: {"echo": auth}), times=RETRY["max_attempts"])
            fails(module, lambda m=module: run(m), texts)
            # A record that cannot land: a reject, with its original text stored.
            server.inject(Fault("malformed_record", path_contains=faulted))
            run(module)
            # The token pasted with its trailing newline: refused when the connection is read.
            monkeypatch.setenv(f"AIRFLOW_CONN_{module.CONN_ID.upper()}",
                               connection(module, server, f"{TOKENS[module]}\n"))
            fails(module, lambda m=module: m.from_connection(get_connection(m.CONN_ID)), texts)
            monkeypatch.setenv(f"AIRFLOW_CONN_{module.CONN_ID.upper()}", connection(module, server))
        # Trustpilot's token endpoint answering an error that quotes the whole sign-in back: its
        # Basic credentials and the form with the business user's password.
        servers[trustpilot].inject(Fault("reply", path_contains=TOKEN_PATH, reply=Reply(404, {
            "error": "not found", "received": {"Authorization": f"Basic {basic(trustpilot)}"},
            "form": {"grant_type": "password", "username": EMAIL, "password": BUSINESS_USER_PASSWORD}})))
        fails(trustpilot, lambda: run(trustpilot), texts)
        # A header requests refuses to send (the connection check bypassed): the COPY aborts with
        # the client's error, whose text PostgreSQL writes to its log.
        client = HttpClient("typeform", servers[typeform].base_url,
                            headers={"Authorization": f"Bearer {TOKENS[typeform]}\n"},
                            policy=RetryPolicy(max_attempts=2, backoff_initial=0.0, jitter=0.0))
        fails(typeform, lambda: runner.run_stream(typeform.TypeformSource(client=client, form_ids=list(FORMS)),
                                                  typeform.STREAMS[0], WINDOW), texts)
        killed_output = killed_mid_copy(db, wh, servers[typeform])

    # Every place held something: the search below is not vacuous.
    captured = capsys.readouterr()
    assert db.execute("select count(*) from audit.pipeline_failures").fetchone() == (5 * len(MODULES) + 2,)
    issued = servers[trustpilot].api.issued_tokens
    assert issued
    assert db.execute("select count(*) from raw._rejected").fetchone()[0] >= len(MODULES)
    logs = {f"server log {path}": path.read_text(errors="replace") for path in server_log_files(db) if path.is_file()}
    assert any("the request could not be sent (InvalidHeader)" in log for log in logs.values())
    assert "HTTP 401" in "\n".join(texts) and "server error 503; retry 1/2" in caplog.text
    places = {"this process's log records": caplog.text, "stdout": captured.out, "stderr": captured.err,
              "the killed run's output": killed_output, "the failures as raised": "\n".join(texts), **logs}
    leaks = [f"{what} in {where}" for what, secret in secrets(issued).items() for where, text in places.items()
             if secret in text]
    leaks += [f"{what} in {column}" for what, secret in secrets(issued).items()
              for column in held_in_tables(db, secret)]
    assert leaks == []
