"""What every source module declares: its streams, and how to read a window of one (the `Source` contract)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ingest.catalogue import raw_table

if TYPE_CHECKING:
    import psycopg

Record = dict[str, Any]

# A record deleted at the source lands as a tombstone: its natural key's fields plus this one,
# the deletion's time. It replaces the record's last version in the raw table (the loader takes
# the deletion time as its updated-at), so personal data the source erased is not kept, staging
# drops the record, and a later live version (a restore) replaces the tombstone in turn.
DELETED_AT = "_deleted_at"


class RecordError(ValueError):
    """A record that cannot be landed; the message becomes its reason in `raw._rejected`."""


@dataclass(frozen=True)
class Stream:
    """One API collection landed into one raw table, `raw.<source>_<name>`.

    `key` and `updated_at` pull the natural key and the source's last-modified time out of a
    record; they raise (KeyError, TypeError, RecordError, ...) when the record lacks them.
    `lookback` re-reads a little before the saved cursor, for sources that publish late.
    """

    source: str
    name: str
    key: Callable[[Record], Any]
    updated_at: Callable[[Record], Any]
    lookback: timedelta = timedelta(0)

    @property
    def table(self) -> str:
        return raw_table(self.source, self.name)


@dataclass(frozen=True)
class Window:
    """Half-open `[start, end)` of source time to read; `start=None` reads all history."""

    start: datetime | None
    end: datetime

    def __post_init__(self) -> None:
        for value in (self.start, self.end):
            if value is not None and value.tzinfo is None:
                raise ValueError(f"window bounds must be timezone-aware, got {value!r}")
        if self.start is not None and self.start >= self.end:
            raise ValueError(f"empty window: start {self.start} is not before end {self.end}")


@runtime_checkable
class Source(Protocol):
    """A connector: built from its Airflow connection, it reads pages of raw records.

    The runner calls, for each stream, inside the one transaction that lands the batch:
    `before_read(conn, stream)`, then `read(stream, window)` page by page, then
    `on_landed(conn, result)`. Connectors subclass `Source` to inherit the defaults below
    (no bookkeeping, all history); `as_source` gives them to one that does not.
    """

    name: str
    streams: tuple[Stream, ...]
    # Where "all history" begins (a connection's extra.start_date); None reads all the API has.
    history_start: datetime | None = None

    def read(self, stream: Stream, window: Window) -> Iterator[list[Any]]:
        """Yield the stream's records in `window`, one API page at a time."""
        ...

    def before_read(self, conn: psycopg.Connection, stream: Stream) -> None:
        """Read what the source keeps in the warehouse (e.g. the file ledger), in the batch's transaction."""
        return None

    def on_landed(self, conn: psycopg.Connection, result: BatchResult) -> None:
        """Record the source's own bookkeeping in the batch's transaction: a failed batch records none."""
        return None


class _WithDefaults(Source):
    """A connector that does not subclass `Source`, with the protocol's defaults for what it lacks."""

    def __init__(self, connector: Any) -> None:
        missing = [member for member in ("name", "streams", "read") if not hasattr(connector, member)]
        if missing:
            raise TypeError(f"{type(connector).__name__} is not a source: it has no {', '.join(missing)}")
        self.connector = connector
        self.name, self.streams = connector.name, connector.streams
        self.history_start = getattr(connector, "history_start", None)

    def read(self, stream: Stream, window: Window) -> Iterator[list[Any]]:
        return self.connector.read(stream, window)

    def before_read(self, conn: psycopg.Connection, stream: Stream) -> None:
        if hasattr(self.connector, "before_read"):
            self.connector.before_read(conn, stream)

    def on_landed(self, conn: psycopg.Connection, result: BatchResult) -> None:
        if hasattr(self.connector, "on_landed"):
            self.connector.on_landed(conn, result)


def as_source(connector: Any) -> Source:
    """`connector` as a `Source`: itself when it has every member, else wrapped with the defaults."""
    return connector if isinstance(connector, Source) else _WithDefaults(connector)


def tombstone(key_fields: Record, deleted_at: datetime | str) -> Record:
    """The record that says the one with `key_fields` (its natural key's fields) was deleted at `deleted_at`."""
    when = deleted_at.isoformat() if isinstance(deleted_at, datetime) else deleted_at
    return {**key_fields, DELETED_AT: when}


def is_tombstone(record: Record) -> bool:
    return DELETED_AT in record


@dataclass
class BatchResult:
    """What one stream's run did; `fetched == landed + rejected` always holds.

    `deleted` counts the tombstones among the records landed (`inserted + updated`).
    """

    source: str
    stream: str
    batch_id: str
    window_start: datetime | None
    window_end: datetime
    fetched: int = 0
    landed: int = 0
    rejected: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    rejected_reasons: dict[str, int] = field(default_factory=dict)


def parse_timestamp(value: Any) -> datetime:
    """An API timestamp (ISO 8601 or Unix seconds) as an aware UTC datetime; RecordError says why not.

    Python's datetimes span the years 1 to 9999 (PostgreSQL's timestamptz spans more): an
    instant outside them, e.g. year 0 or Unix time 1e20, is out of range.
    """
    if isinstance(value, bool) or value is None or value == "":
        raise RecordError(f"missing or invalid timestamp {value!r}")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:  # NaN and infinity included
            raise RecordError(f"timestamp out of range {value!r}") from exc
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
            # In UTC, a time on the first or last day of that span may fall outside it.
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        except OverflowError as exc:
            raise RecordError(f"timestamp out of range {value!r}") from exc
        except ValueError as exc:
            problem = "timestamp out of range" if "out of range" in str(exc) else "unparseable timestamp"
            raise RecordError(f"{problem} {value!r}") from exc
    raise RecordError(f"unparseable timestamp {value!r}")
