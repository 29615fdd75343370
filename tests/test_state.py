"""Which window a run reads, and when the cursor may move."""

from datetime import UTC, datetime, timedelta

from ingest.state import plan_window
from ingest.streams import Window

D = datetime(2026, 3, 9, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def test_first_scheduled_run_reads_all_history_up_to_the_interval_end():
    window, advance = plan_window(None, Window(D, D + DAY), lookback=HOUR, backfill=False)
    assert window == Window(None, D + DAY)
    assert advance is True


def test_first_run_starts_at_the_configured_history_start():
    start = datetime(2025, 1, 1, tzinfo=UTC)
    window, _ = plan_window(None, Window(D, D + DAY), lookback=HOUR, backfill=False, history_start=start)
    assert window == Window(start, D + DAY)


def test_next_scheduled_run_reads_from_the_watermark_less_the_lookback():
    window, advance = plan_window(D, Window(D, D + DAY), lookback=HOUR, backfill=False)
    assert window == Window(D - HOUR, D + DAY)
    assert advance is True


def test_scheduled_run_after_missed_days_reads_the_whole_gap():
    window, _ = plan_window(D - 3 * DAY, Window(D, D + DAY), lookback=timedelta(0), backfill=False)
    assert window == Window(D - 3 * DAY, D + DAY)


def test_rerun_of_an_interval_the_watermark_has_passed_rereads_just_that_interval():
    window, _ = plan_window(D + 5 * DAY, Window(D, D + DAY), lookback=HOUR, backfill=False)
    assert window == Window(D, D + DAY)


def test_backfill_reads_exactly_its_interval_and_never_moves_a_later_watermark():
    window, advance = plan_window(D + 30 * DAY, Window(D, D + DAY), lookback=HOUR, backfill=True)
    assert window == Window(D, D + DAY)
    assert advance is True  # greatest(watermark, end) keeps the later watermark


def test_backfill_beyond_a_gap_does_not_advance_the_watermark_over_the_gap():
    _, advance = plan_window(D - 10 * DAY, Window(D, D + DAY), lookback=HOUR, backfill=True)
    assert advance is False


def test_backfill_without_any_watermark_leaves_the_nightly_cursor_unset():
    _, advance = plan_window(None, Window(D, D + DAY), lookback=HOUR, backfill=True)
    assert advance is False
