"""Fetch a source's next pages while the loader writes the current one.

A page costs two waits in a row: the API preparing it (a round trip, the vendor's own work) and
cxloop parsing and copying it into PostgreSQL. Done one after the other, each side idles while
the other works; an extract-load of a million records spent about 60% of its time waiting on
the API (measured against the bundled simulators). A thread that reads the pages, up to
`depth` ahead, overlaps the two: the socket wait releases the GIL, so the loader runs meanwhile.

The pages still come in order, each once, and a source's error is raised in the caller at the
point its page would have come, with its own type and traceback. When the caller stops early
(a COPY fails, the task is killed) the reader stops too: it is told to, and closes the source's
generator in its own thread, so the source's `finally` blocks run where its state lives.
Only `read` runs in the thread; what a source does before and after (its `before_read` and
`on_landed`, which use the warehouse connection) stays in the caller's thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

Page = TypeVar("Page")

# Two pages ahead keep the API busy through a slow page on our side; each is at most a
# thousand records, so what waits in the queue stays small.
DEFAULT_DEPTH = 2
# How often a blocked reader looks whether the caller has gone.
_POLL_SECONDS = 0.2


class _End:
    """The reader's last word: the source ran out, or raised `error`."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def read_ahead(pages: Iterator[Page], depth: int = DEFAULT_DEPTH, *, name: str = "read-ahead") -> Iterator[Page]:
    """The pages of `pages`, in order, read by a thread up to `depth` pages ahead of the caller."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, not {depth}")
    handoff: queue.Queue[Page | _End] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Page | _End) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for page in pages:
                if not offer(page):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it
            offer(_End(exc))
            return
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()
        offer(_End())

    reader = threading.Thread(target=read, name=name, daemon=True)
    reader.start()
    try:
        while True:
            item = handoff.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        reader.join()
