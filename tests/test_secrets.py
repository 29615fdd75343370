"""Credentials never leave the process: refused when malformed, masked in errors, failure records and PostgreSQL."""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from ingest import failures, hubspot, masking, runner, trustpilot, typeform
from ingest.connections import get_connection, source_connection
from ingest.http import HttpClient, RetryPolicy, SourceHTTPError
from ingest.streams import Record, Source, Stream, Window
from simulators.company import FORMS, Company
from simulators.server import Simulator
from simulators.typeform import TypeformApi

TOKEN = "tf-leak-check-4c1f9e7a2b"
COMPANY = Company(customers=20, end=datetime(2026, 3, 10, tzinfo=UTC), days=10)
WINDOW = Window(COMPANY.end - timedelta(days=1), COMPANY.end)
# What each connector needs besides its token to get as far as reading it.
EXTRAS = {hubspot: {}, typeform: {"form_ids": list(FORMS)},
          trustpilot: {"business_unit_id": "bu-1", "api_secret": "tp-leak-check-secret",
                       "business_user_password": "tp-leak-check-password"}}
# Trustpilot's business user signs in with an email, the connection's login.
LOGINS = {trustpilot: "reviews@cxloop.example"}
MALFORMED = {
    "a trailing newline": f"{TOKEN}\n",
    "a trailing carriage return and newline": f"{TOKEN}\r\n",
    "a leading space": f" {TOKEN}",
    "a bell character inside": f"{TOKEN[:6]}\x07{TOKEN[6:]}",
    "a zero-width space inside": f"{TOKEN[:6]}\u200b{TOKEN[6:]}",
}


def set_connection(monkeypatch, module, password: str, host: str = "http://127.0.0.1:9") -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{module.CONN_ID.upper()}", json.dumps(
        {"conn_type": "http", "host": host, "login": LOGINS.get(module), "password": password,
         "extra": EXTRAS[module]}))


def assert_no_token(text: str) -> None:
    assert TOKEN not in text
    assert TOKEN[6:] not in text  # nor the part after a character spliced into it


@pytest.mark.parametrize("module", list(EXTRAS), ids=lambda m: m.__name__.split(".")[-1])
@pytest.mark.parametrize("flaw", list(MALFORMED))
def test_a_token_with_whitespace_or_a_control_character_is_refused_naming_the_connection_not_the_token(
        monkeypatch, module, flaw):
    set_connection(monkeypatch, module, MALFORMED[flaw])
    with pytest.raises(ValueError, match=f"^connection {module.CONN_ID}: .*connection password") as refused:
        module.from_connection(get_connection(module.CONN_ID))
    assert_no_token(str(refused.value))
    assert_no_token(repr(refused.value))
    assert refused.value.__cause__ is None


def test_a_trailing_newline_is_named_as_such():
    conn = SimpleNamespace(host=None, login=None, password=f"{TOKEN}\n", extra_dejson={})
    with pytest.raises(ValueError, match="the private-app token \\(connection password\\) ends with a line break"):
        source_connection(conn, "cxloop_hubspot", password="the private-app token")


def test_a_connections_password_is_masked_in_airflows_task_log_once_read():
    from airflow.sdk.log import redact

    password = "hs-masked-by-airflow-5e2d"
    source_connection(SimpleNamespace(host=None, login=None, password=password, extra_dejson={}), "cxloop_hubspot")
    assert redact(f"Authorization: Bearer {password}") == "Authorization: Bearer ***"
    assert masking.redact(f"token={password}") == "token=***"


@pytest.fixture(scope="module")
def sim():
    with Simulator(TypeformApi(COMPANY, token=TOKEN)) as server:
        yield server


def server_log(db) -> str:
    (data_directory,) = db.execute("show data_directory").fetchone()
    return (Path(data_directory) / "server.log").read_text(errors="replace")


def record_as_the_dag_does(exc: BaseException) -> None:
    from dags.cxloop_nightly import _record_failure

    ti = SimpleNamespace(task_id="typeform.extract_load", map_index=0, dag_id="cxloop_nightly", run_id="manual__1",
                         try_number=1)
    _record_failure({"ti": ti, "exception": exc, "dag_run": SimpleNamespace(logical_date=WINDOW.start)})


def test_a_header_requests_refuses_fails_with_no_trace_of_the_token_in_error_record_or_server_log(db, sim):
    # As the connection check would refuse it, build the client by hand: the HTTP layer's own guard.
    client = HttpClient("typeform", sim.base_url, headers={"Authorization": f"Bearer {TOKEN}\n"},
                        policy=RetryPolicy(max_attempts=2, backoff_initial=0.0, jitter=0.0))
    source = typeform.TypeformSource(client=client, form_ids=list(FORMS))

    with pytest.raises(SourceHTTPError, match="a header value is malformed") as failed:
        runner.run_stream(source, typeform.STREAMS[0], WINDOW)
    record_as_the_dag_does(failed.value)

    assert_no_token("".join(traceback.format_exception(failed.value)))
    assert_no_token(repr(failed.value))
    (error,) = db.execute("select error from audit.pipeline_failures").fetchone()
    assert error.startswith("SourceHTTPError: typeform.responses: the request could not be sent (InvalidHeader)")
    assert_no_token(error)
    log = server_log(db)
    assert "typeform.responses: the request could not be sent" in log  # the COPY's abort reached the server
    assert_no_token(log)
    assert sim.requests == []


class _Quoting(Source):
    """A connector whose error quotes its credential, as an API's error body might."""

    name = "typeform"
    streams = typeform.STREAMS

    def __init__(self, credential: str) -> None:
        self.credential = credential

    def read(self, stream: Stream, window: Window) -> Iterator[list[Record]]:
        yield []
        raise ValueError(f"the API says: token {self.credential} has expired")


def test_an_error_quoting_a_credential_is_masked_before_postgres_the_caller_or_the_record_see_it(db):
    credential = "tf-quoted-by-the-api-8d3a"
    typeform_conn = SimpleNamespace(host=None, login=None, password=credential, extra_dejson={"form_ids": ["f"]})
    typeform.from_connection(typeform_conn)  # reading the connection registers the credential

    with pytest.raises(runner.SecretInErrorError) as failed:
        runner.run_stream(_Quoting(credential), typeform.STREAMS[0], WINDOW)
    record_as_the_dag_does(failed.value)

    assert str(failed.value) == "ValueError: the API says: token *** has expired"
    assert failed.value.__context__ is None and failed.value.__cause__ is None
    (error,) = db.execute("select error from audit.pipeline_failures").fetchone()
    assert error == "SecretInErrorError: ValueError: the API says: token *** has expired"
    log = server_log(db)
    assert "the API says: token *** has expired" in log
    assert credential not in log


def test_a_failure_record_masks_every_credential_read_so_far(db):
    source_connection(SimpleNamespace(host=None, login=None, password=TOKEN, extra_dejson={}), "cxloop_typeform")
    failures.record(failures.TaskFailure(dag_id="cxloop_nightly", task_id="typeform.extract_load", run_id="r",
                                         error=f"RuntimeError: sent Bearer {TOKEN} and got 500"))
    assert db.execute("select error from audit.pipeline_failures").fetchone() == (
        "RuntimeError: sent Bearer *** and got 500",)
