"""Spec: the warehouse's own tables come from ordered migrations, applied once, safely in parallel."""

from __future__ import annotations

import threading

import psycopg
import pytest

from ingest import catalogue, schema, warehouse


def raw_connect(wh: warehouse.Warehouse) -> psycopg.Connection:
    """A connection that does not migrate, to look at the warehouse as it is."""
    return psycopg.connect(host=wh.host, port=wh.port, user=wh.user, dbname=wh.dbname, autocommit=True)


def write(folder, name: str, text: str):
    (folder / name).write_text(text)
    return folder


def test_a_first_connection_applies_every_migration_in_order_and_records_it(empty_database):
    with warehouse.connect(empty_database):
        pass
    with raw_connect(empty_database) as conn:
        recorded = conn.execute("select version, name from audit.schema_migrations order by version").fetchall()
        tables = {row[0] for row in conn.execute(
            "select schemaname || '.' || tablename from pg_tables where schemaname in ('raw', 'audit')")}
    assert recorded == [(m.version, m.name) for m in schema.migrations()]
    assert recorded[:2] == [(1, "0001_landing"), (2, "0002_audit")]
    assert {"raw._state", "raw._rejected", "raw._files_loaded", "audit.load_batches", "audit.pipeline_failures",
            "audit.validation_runs", "audit.validation_failures"} <= tables
    # Every stream of the catalogue has its raw table before its source is ever configured.
    assert {f"raw.{table}" for table in catalogue.raw_tables()} <= tables


def test_a_migrated_warehouse_applies_nothing_again(empty_database):
    with raw_connect(empty_database) as conn:
        every = [m.name for m in schema.migrations()]
        assert every[:2] == ["0001_landing", "0002_audit"]
        assert schema.migrate(conn) == every
        assert schema.migrate(conn) == []
        assert conn.execute("select count(*) from audit.schema_migrations").fetchone() == (len(every),)


def test_a_new_migration_file_runs_once_on_a_warehouse_that_has_the_earlier_ones(empty_database, tmp_path):
    write(tmp_path, "0001_first.sql", "create table audit.first (id int)")
    with raw_connect(empty_database) as conn:
        assert schema.migrate(conn, tmp_path, raw_tables=()) == ["0001_first"]
        write(tmp_path, "0002_second.sql", "alter table audit.first add column note text")
        assert schema.migrate(conn, tmp_path, raw_tables=()) == ["0002_second"]
        columns = conn.execute("select column_name from information_schema.columns "
                               "where table_schema = 'audit' and table_name = 'first' order by ordinal_position")
        assert [c for (c,) in columns] == ["id", "note"]


def test_a_migration_edited_after_it_ran_is_refused(empty_database, tmp_path):
    write(tmp_path, "0001_first.sql", "create table audit.first (id int)")
    with raw_connect(empty_database) as conn:
        schema.migrate(conn, tmp_path, raw_tables=())
        write(tmp_path, "0001_first.sql", "create table audit.first (id bigint)")
        with pytest.raises(schema.MigrationError, match="0001_first was changed after it ran"):
            schema.migrate(conn, tmp_path, raw_tables=())


def test_a_warehouse_migrated_by_a_newer_checkout_is_refused(empty_database, tmp_path):
    write(tmp_path, "0001_first.sql", "select 1")
    write(tmp_path, "0002_second.sql", "select 2")
    with raw_connect(empty_database) as conn:
        schema.migrate(conn, tmp_path, raw_tables=())
        (tmp_path / "0002_second.sql").unlink()
        with pytest.raises(schema.MigrationError, match=r"migrations \[2\] this checkout does not know"):
            schema.migrate(conn, tmp_path, raw_tables=())


@pytest.mark.parametrize("name", ["1_short.sql", "0001-dash.sql", "first.sql"])
def test_a_misnamed_migration_file_is_refused(tmp_path, name):
    write(tmp_path, name, "select 1")
    with pytest.raises(schema.MigrationError, match="NNNN_<what>.sql"):
        schema.migrations(tmp_path)


def test_a_failing_migration_leaves_nothing_half_applied(empty_database, tmp_path):
    write(tmp_path, "0001_first.sql", "create table audit.first (id int)")
    write(tmp_path, "0002_broken.sql", "create table audit.second (id int); select * from no_such_table")
    with raw_connect(empty_database) as conn:
        with pytest.raises(psycopg.errors.UndefinedTable):
            schema.migrate(conn, tmp_path, raw_tables=())
        assert conn.execute("select to_regclass('audit.first'), to_regclass('audit.second')").fetchone() == (
            None, None)
        assert conn.execute("select to_regclass('audit.schema_migrations')").fetchone() == (None,)


def test_a_warehouse_set_up_before_migrations_is_brought_up_to_date(empty_database):
    # As an older cxloop left it: tables made on first use, a column since added, one since relaxed.
    with raw_connect(empty_database) as conn:
        conn.execute("create schema raw; create schema audit")
        conn.execute("create table raw._rejected (rejected_id bigint generated always as identity primary key, "
                     "source text not null, stream text not null, batch_id uuid not null, reason text not null, "
                     "original text not null, rejected_at timestamptz not null default now())")
        conn.execute("insert into raw._rejected (source, stream, batch_id, reason, original) "
                     "values ('files', 'records', gen_random_uuid(), 'no natural key: empty', '{}')")
        conn.execute("create table audit.validation_runs (validation_id uuid primary key, batch_id uuid not null, "
                     "suite text not null, success boolean not null, evaluated integer not null, "
                     "failed_critical integer not null, failed_warning integer not null, "
                     "rows_validated integer not null, outcome text not null, "
                     "evaluated_at timestamptz not null default now())")
    with warehouse.connect(empty_database) as conn:
        assert conn.execute("select count(*), count(record_key) from raw._rejected").fetchone() == (1, 0)
        nullable = conn.execute("select is_nullable from information_schema.columns where table_schema = 'audit' "
                                "and table_name = 'validation_runs' and column_name = 'batch_id'").fetchone()
        assert nullable == ("YES",)


def test_many_first_runs_at_once_on_an_empty_warehouse_all_succeed(empty_database):
    runs = 8
    start = threading.Barrier(runs)
    errors: list[BaseException] = []

    def first_run() -> None:
        try:
            start.wait()
            with warehouse.connect(empty_database) as conn:
                conn.execute("select count(*) from raw._state").fetchone()
        except BaseException as exc:  # noqa: BLE001 - every failure is the finding
            errors.append(exc)

    threads = [threading.Thread(target=first_run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with raw_connect(empty_database) as conn:
        assert conn.execute("select count(*) from audit.schema_migrations").fetchone() == (
            len(schema.migrations()),)


def test_a_stream_outside_the_catalogue_gets_its_raw_table_when_it_first_lands(empty_database):
    with warehouse.connect(empty_database) as conn, conn.transaction():
        schema.ensure_raw_table(conn, "survey_tool_answers")
        schema.ensure_raw_table(conn, "survey_tool_answers")
        columns = conn.execute("select column_name from information_schema.columns "
                               "where table_schema = 'raw' and table_name = 'survey_tool_answers' "
                               "order by ordinal_position").fetchall()
    assert [c for (c,) in columns] == ["record_key", "record_updated_at", "record", "_batch_id", "_loaded_at"]
