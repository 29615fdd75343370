"""Reading a source's pages ahead of the loader: same pages, same order, same errors, no leftovers."""

from __future__ import annotations

import threading
import time

import pytest

from ingest.read_ahead import read_ahead


class PageError(RuntimeError):
    pass


def test_every_page_comes_once_in_the_sources_order():
    pages = ([n, n + 1] for n in range(0, 200, 2))

    assert list(read_ahead(pages)) == [[n, n + 1] for n in range(0, 200, 2)]


def test_a_sources_error_is_raised_where_its_page_would_have_come_with_its_own_type():
    def pages():
        yield ["a"]
        yield ["b"]
        raise PageError("page 3 is malformed")

    received = []
    with pytest.raises(PageError, match="page 3 is malformed"):
        for page in read_ahead(pages()):
            received.append(page)

    assert received == [["a"], ["b"]]


def test_the_source_is_read_at_most_depth_pages_ahead_of_the_caller():
    produced = []
    def pages():
        for n in range(10):
            produced.append(n)
            yield [n]

    reader = read_ahead(pages(), depth=2)
    assert next(reader) == [0]
    time.sleep(0.5)  # time for the reader to run as far ahead as it may
    # Two pages in the queue and one more in hand, waiting to be offered, beside the one received.
    assert len(produced) <= 1 + 2 + 1
    assert list(reader) == [[n] for n in range(1, 10)]


def test_a_caller_that_stops_early_closes_the_source_so_its_cleanup_runs():
    cleaned_up = threading.Event()

    def pages():
        try:
            for n in range(1_000):
                yield [n]
        finally:
            cleaned_up.set()

    reader = read_ahead(pages(), depth=1)
    assert next(reader) == [0]
    reader.close()

    assert cleaned_up.is_set()


def test_a_caller_that_fails_while_loading_stops_the_reader_and_keeps_its_own_error():
    def pages():
        yield from ([n] for n in range(1_000))

    with pytest.raises(ValueError, match="COPY failed"):
        for page in read_ahead(pages()):
            if page == [3]:
                raise ValueError("COPY failed")

    assert [t for t in threading.enumerate() if t.name == "read-ahead"] == []


def test_a_depth_below_one_is_refused():
    with pytest.raises(ValueError, match="depth must be at least 1, not 0"):
        list(read_ahead(iter([]), depth=0))
