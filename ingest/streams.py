"""What every source module declares: its streams, and how to read a window of one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

Record = dict[str, Any]


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
        return f"{self.source}_{self.name}"


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


class Source(Protocol):
    """A connector: built from its Airflow connection, it reads pages of raw records."""

    name: str
    streams: tuple[Stream, ...]

    def read(self, stream: Stream, window: Window) -> Iterator[list[Any]]:
        """Yield the stream's records in `window`, one API page at a time."""
        ...


@dataclass
class BatchResult:
    """What one stream's run did; `fetched == landed + rejected` always holds."""

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
    rejected_reasons: dict[str, int] = field(default_factory=dict)


def parse_timestamp(value: Any) -> datetime:
    """An API timestamp (ISO 8601 or Unix seconds) as an aware UTC datetime."""
    if isinstance(value, bool) or value is None or value == "":
        raise RecordError(f"missing or invalid timestamp {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise RecordError(f"unparseable timestamp {value!r}") from exc
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise RecordError(f"unparseable timestamp {value!r}")
