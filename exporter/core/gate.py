"""Polls step aside while a scrape renders, so a scrape never waits behind polling.

One process runs Python one thread at a time. With dozens of poll threads each
preparing, signing and parsing requests, a scrape thread gets the interpreter a
fraction of the time, and a 20 ms render took seconds in a burst of polls. While any
scrape renders, each poll thread waits here before its next AWS request (at most
``max_wait``, so back-to-back scrapers cannot starve polling); requests already in
flight finish as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

MAX_WAIT = 0.25  # seconds a request may be held back; a render at scale takes less


class ScrapeGate:
    """Closed while at least one scrape renders; poll threads wait on it before requests."""

    def __init__(self, max_wait: float = MAX_WAIT) -> None:
        self._max_wait = max_wait
        self._lock = threading.Lock()
        self._scrapes = 0
        self._open = threading.Event()
        self._open.set()

    @contextmanager
    def scraping(self) -> Iterator[None]:
        with self._lock:
            self._scrapes += 1
            self._open.clear()
        try:
            yield
        finally:
            with self._lock:
                self._scrapes -= 1
                if not self._scrapes:
                    self._open.set()

    def wait(self) -> bool:
        """Before a request: True at once when no scrape renders, else after it (or max_wait)."""
        return self._open.is_set() or self._open.wait(self._max_wait)
