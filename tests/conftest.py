"""Shared fixtures: an isolated embedded warehouse and Airflow home per test session."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Before anything imports Airflow or the warehouse module: never touch ~/airflow or .cxloop.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="cxloop-test-"))
os.environ["CXLOOP_HOME"] = str(_SESSION_HOME)
os.environ["AIRFLOW_HOME"] = str(_SESSION_HOME / "airflow")
os.environ["CXLOOP_EMBEDDED_PORT"] = "0"
# dbt's compiled files, run results and logs per session too: `make test` runs sessions side by
# side (pytest-xdist), and two dbt processes must not write one target folder.
os.environ["DBT_TARGET_PATH"] = str(_SESSION_HOME / "dbt_target")
os.environ["DBT_LOG_PATH"] = str(_SESSION_HOME / "dbt_logs")
os.environ.pop("AIRFLOW_CONN_CXLOOP_WAREHOUSE", None)
for name in [n for n in os.environ if n.startswith("AIRFLOW_CONN_CXLOOP_")]:
    os.environ.pop(name)


@pytest.fixture(scope="session")
def warehouse_session():
    from ingest import warehouse

    wh = warehouse.resolve()
    yield wh
    warehouse.stop_embedded()
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)


@pytest.fixture
def wh(warehouse_session):
    """The session's warehouse, emptied: every test starts from no raw data and no cursors."""
    from ingest import warehouse

    with warehouse.connect(warehouse_session, autocommit=True) as conn:
        for schema in warehouse.SCHEMAS:
            conn.execute(f'drop schema if exists "{schema}" cascade')
    with warehouse.connect(warehouse_session):
        pass  # recreates the schemas
    return warehouse_session


@pytest.fixture
def empty_database(wh):
    """A database of its own on the session's server, with nothing in it (not even migrations)."""
    import dataclasses
    import uuid

    from ingest import warehouse

    name = f"empty_{uuid.uuid4().hex[:12]}"
    with warehouse.connect(wh, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    yield dataclasses.replace(wh, dbname=name)
    with warehouse.connect(wh, autocommit=True) as conn:
        conn.execute(f'drop database "{name}" with (force)')


@pytest.fixture
def db(wh):
    from ingest import warehouse

    with warehouse.connect(wh, autocommit=True) as conn:
        yield conn


# The longest modules first: `make test` hands whole modules to two sessions in collection
# order, and a long module handed out last would run alone at the end while the other session
# idles. The rest keep their order.
LONGEST_FIRST = ("test_pipeline_e2e.py", "test_topic_marts.py", "test_incremental_models.py",
                 "test_enrichment_model_run.py", "test_closed_loop.py", "test_bench_verbatims.py",
                 "test_verbatims.py", "test_closed_loop_e2e.py", "test_models.py")


def pytest_collection_modifyitems(session, config, items) -> None:
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
