"""The contract between the runner and the connectors: the `Source` protocol, the catalogue, the connection preamble."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import yaml

from ingest import hubspot, runner, trustpilot, typeform, zendesk
from ingest.connections import get_connection
from ingest.http import RetryPolicy
from ingest.settings import DBT_PROJECT_DIR
from ingest.streams import DELETED_AT, Source, Window, as_source, tombstone

EXTRAS = {hubspot: {}, typeform: {"form_ids": ["f1"]},
          trustpilot: {"business_unit_id": "bu-1", "api_secret": "contract-secret-1234",
                       "business_user_password": "contract-password-1234"}}
# Trustpilot signs in as a business user for its private endpoint: the email goes in the login.
LOGINS = {trustpilot: "reviews@contract.example"}
CONNECTORS = pytest.mark.parametrize("module", list(EXTRAS), ids=lambda m: m.__name__.split(".")[-1])


def set_connection(monkeypatch, module, **extra) -> None:
    login = {"login": LOGINS[module]} if module in LOGINS else {}
    monkeypatch.setenv(f"AIRFLOW_CONN_{module.CONN_ID.upper()}", json.dumps(
        {"conn_type": "http", "host": "http://127.0.0.1:9", "password": "contract-token-1234", **login,
         "extra": {**EXTRAS[module], **extra}}))


def built(module):
    return module.from_connection(get_connection(module.CONN_ID))


@CONNECTORS
def test_every_connector_reads_start_date_and_retry_from_its_connection_the_same_way(monkeypatch, module):
    set_connection(monkeypatch, module, start_date="2025-06-01", retry={"max_attempts": 2, "max_wait": 30})
    source = built(module)
    assert isinstance(source, Source)
    assert source.history_start == datetime(2025, 6, 1, tzinfo=UTC)
    assert source.client.policy == RetryPolicy(max_attempts=2, max_wait=30)


@CONNECTORS
def test_a_connector_without_start_date_reads_all_history(monkeypatch, module):
    set_connection(monkeypatch, module)
    assert built(module).history_start is None


@CONNECTORS
def test_a_bad_start_date_or_retry_setting_names_the_connection_and_the_setting(monkeypatch, module):
    set_connection(monkeypatch, module, start_date="last tuesday")
    with pytest.raises(ValueError, match=f"^connection {module.CONN_ID}: extra.start_date: unparseable timestamp"):
        built(module)
    set_connection(monkeypatch, module, retry={"retries": 2})
    with pytest.raises(ValueError, match=f"^connection {module.CONN_ID}: extra.retry: unknown retry settings"):
        built(module)


@CONNECTORS
def test_a_connector_without_its_token_says_which_field_to_set(monkeypatch, module):
    monkeypatch.setenv(f"AIRFLOW_CONN_{module.CONN_ID.upper()}", json.dumps(
        {"conn_type": "http", "extra": EXTRAS[module]}))
    with pytest.raises(ValueError, match=f"^connection {module.CONN_ID}: .* \\(connection password\\) is not set$"):
        built(module)


def test_a_connector_that_does_not_subclass_source_runs_with_the_protocols_defaults():
    start = datetime(2025, 1, 1, tzinfo=UTC)
    legacy = zendesk.ZendeskSource(client=None, history_start=start)
    source = as_source(legacy)
    assert isinstance(source, Source)
    assert (source.name, source.streams, source.history_start) == ("zendesk", zendesk.STREAMS, start)
    # No bookkeeping of its own: the hooks touch nothing, not even the connection they are given.
    assert source.before_read(None, zendesk.STREAMS[0]) is None
    assert source.on_landed(None, None) is None


def test_a_connector_that_subclasses_source_is_used_as_it_is(monkeypatch):
    set_connection(monkeypatch, hubspot)
    source = built(hubspot)
    assert as_source(source) is source


def test_an_object_without_streams_or_read_is_not_a_source():
    with pytest.raises(TypeError, match="^object is not a source: it has no name, streams, read$"):
        as_source(object())


def test_the_runner_refuses_a_connector_whose_streams_differ_from_the_catalogue(monkeypatch):
    monkeypatch.setattr(hubspot, "STREAMS", hubspot.STREAMS[:2])
    with pytest.raises(RuntimeError, match=r"ingest/hubspot.py declares the streams \['contacts', 'companies'\] "
                                           r"but ingest/catalogue.py lists \['contacts', 'companies', 'deals', "
                                           r"'deal_pipelines', 'owners', 'line_items', 'products'\]"):
        runner.streams_of("hubspot")


def test_asking_for_a_stream_the_source_does_not_have_is_an_error(wh, monkeypatch):
    set_connection(monkeypatch, hubspot)
    with pytest.raises(ValueError, match="^source hubspot has no stream tickets; streams: contacts, companies, deals, "
                                         "deal_pipelines, owners, line_items, products$"):
        runner.run_source("hubspot", Window(None, datetime(2026, 1, 1, tzinfo=UTC)), streams=["tickets"])


def test_the_warehouse_reads_deletions_from_the_field_the_connectors_write_them_to():
    """A tombstone's field is named once for Python (ingest.streams) and once for dbt (a var)."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    assert project["vars"]["deleted_at_field"] == DELETED_AT
    deleted_at = datetime(2026, 3, 5, 8, tzinfo=UTC)
    assert tombstone({"id": 7}, deleted_at) == {"id": 7, DELETED_AT: "2026-03-05T08:00:00+00:00"}
