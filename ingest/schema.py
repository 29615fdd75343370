"""The warehouse's own tables (`raw`'s bookkeeping, `audit`), as ordered migrations.

Each file `migrations/NNNN_<what>.sql` runs once per warehouse, in order, and is recorded in
`audit.schema_migrations` with its checksum; a file edited after it ran is refused, so a change
to a table is always a new file. Migrations and the raw tables of the catalogue's streams are
created under one advisory lock, in one transaction: any number of first runs at once on an
empty warehouse wait for each other instead of colliding in `CREATE ... IF NOT EXISTS` (which
PostgreSQL does not make safe against a concurrent twin).

`ensure_current` is what every connection calls: three small reads when the warehouse is up to
date, the migrations only when it is not.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from ingest import catalogue
from ingest.streams import DELETED_AT

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The two-key form keeps this lock apart from the runner's one-key per-stream locks.
_LOCK = (2_026_120, 1)

_LEDGER = """
create schema if not exists audit;
create table if not exists audit.schema_migrations (
    version    integer primary key,
    name       text        not null,
    checksum   text        not null,
    applied_at timestamptz not null default now()
)
"""

RAW_TABLE = """
create table if not exists raw.{table} (
    record_key        text        primary key,
    record_updated_at timestamptz not null,
    record            jsonb       not null,
    _batch_id         uuid        not null,
    _loaded_at        timestamptz not null default now()
);
create index if not exists {index} on raw.{table} (_batch_id);
-- The warehouse reads a night's tombstones (records deleted at the source) without scanning the
-- table: a partial index holds them alone. Its predicate is the one dbt's deletion ledger filters on.
create index if not exists {deleted_index} on raw.{table} (_loaded_at)
    where (record ->> '{deleted_at}') is not null
"""


class MigrationError(RuntimeError):
    """The warehouse's recorded migrations disagree with the files in this checkout."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order; refuses a misnamed file or a repeated version."""
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", path.name)
        if not match:
            raise MigrationError(f"{path.name}: a migration is named NNNN_<what>.sql")
        version = int(match[1])
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is also {found[version].name}")
        found[version] = Migration(version, path.stem, path.read_text())
    return [found[v] for v in sorted(found)]


def _applied(conn: psycopg.Connection) -> dict[int, str] | None:
    if conn.execute("select to_regclass('audit.schema_migrations') is null").fetchone()[0]:
        return None
    return dict(conn.execute("select version, checksum from audit.schema_migrations").fetchall())


def _missing_raw_tables(conn: psycopg.Connection, tables: list[str]) -> int:
    return conn.execute(
        "select count(*) from unnest(%s::text[]) as t where to_regclass('raw.' || quote_ident(t)) is null",
        (tables,)).fetchone()[0]


def _create_raw_table(conn: psycopg.Connection, table: str) -> None:
    conn.execute(sql.SQL(RAW_TABLE).format(table=sql.Identifier(table), index=sql.Identifier(f"{table}__batch"),
                                           deleted_index=sql.Identifier(f"{table}__deleted"),
                                           deleted_at=sql.SQL(DELETED_AT)))


def migrate(conn: psycopg.Connection, folder: Path = MIGRATIONS_DIR,
            raw_tables: Sequence[str] | None = None) -> list[str]:
    """Apply the pending migrations, then create the raw tables (default: the catalogue's); the names applied."""
    wanted = migrations(folder)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s, %s)", _LOCK)
        conn.execute(_LEDGER)
        applied = _applied(conn) or {}
        for migration in wanted:
            if migration.version in applied and applied[migration.version] != migration.checksum:
                raise MigrationError(f"migration {migration.name} was changed after it ran on this warehouse; "
                                     "put the change in a new migration file")
        unknown = sorted(set(applied) - {m.version for m in wanted})
        if unknown:
            raise MigrationError(f"the warehouse has migrations {unknown} this checkout does not know: "
                                 "it was migrated by a newer cxloop")
        done = []
        for migration in wanted:
            if migration.version not in applied:
                conn.execute(migration.sql)
                conn.execute("insert into audit.schema_migrations (version, name, checksum) values (%s, %s, %s)",
                             (migration.version, migration.name, migration.checksum))
                done.append(migration.name)
        for table in catalogue.raw_tables() if raw_tables is None else raw_tables:
            _create_raw_table(conn, table)
    return done


def ensure_current(conn: psycopg.Connection) -> None:
    """Migrate the warehouse if it is behind this checkout; cheap when it is not."""
    applied = _applied(conn)
    behind = (applied is None or set(applied) != {m.version for m in migrations()}
              or _missing_raw_tables(conn, catalogue.raw_tables()) > 0)
    if not conn.autocommit:
        conn.commit()  # the checks above must not leave a transaction open for the caller
    if behind:
        migrate(conn)
        if not conn.autocommit:
            conn.commit()


def ensure_raw_table(conn: psycopg.Connection, table: str) -> None:
    """Create `raw.<table>` if it is missing, under the migrations' lock (inside the caller's transaction)."""
    if _missing_raw_tables(conn, [table]):
        conn.execute("select pg_advisory_xact_lock(%s, %s)", _LOCK)
        _create_raw_table(conn, table)
