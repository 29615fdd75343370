"""Per-stream cursors, kept in the warehouse so they move in the same transaction as the data."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from ingest.streams import Stream, Window


def read_watermark(conn: psycopg.Connection, stream: Stream) -> datetime | None:
    row = conn.execute(
        "select watermark from raw._state where source = %s and stream = %s",
        (stream.source, stream.name),
    ).fetchone()
    return row[0] if row else None


def plan_window(watermark: datetime | None, interval: Window, *, lookback: timedelta,
                backfill: bool, history_start: datetime | None = None) -> tuple[Window, bool]:
    """The window to read for a run over `interval`, and whether it may advance the watermark.

    A scheduled run reads from its saved watermark (less `lookback`), or from `history_start`
    (None: all history) the first time, up to the interval's end. A rerun of an interval the
    watermark has already passed re-reads just that interval. A backfill reads exactly its
    interval, and moves the watermark only where it joins on to what is already loaded, so the
    nightly cursor never goes backwards and never jumps over a gap.
    """
    if backfill:
        contiguous = watermark is not None and interval.start is not None and interval.start <= watermark
        return interval, contiguous
    if watermark is None:
        return Window(history_start, interval.end), True
    start = watermark - lookback
    if interval.start is not None:
        start = min(start, interval.start)
    return Window(min(start, interval.end - timedelta(microseconds=1)), interval.end), True


def advance(conn: psycopg.Connection, stream: Stream, watermark: datetime) -> None:
    """Move the stream's watermark forward to `watermark`; never backwards."""
    conn.execute(
        """
        insert into raw._state as s (source, stream, watermark) values (%s, %s, %s)
        on conflict (source, stream) do update
            set watermark = greatest(s.watermark, excluded.watermark), updated_at = now()
        """,
        (stream.source, stream.name, watermark),
    )
