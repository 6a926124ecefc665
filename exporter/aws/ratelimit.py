"""Client-side rate limits: a token bucket per target, waited on before every attempt."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from exporter.aws.credentials import CallContext
from exporter.config.scale import RateLimit
from exporter.core.model import TargetKey


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; ``acquire`` blocks for one."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()

    def acquire(self) -> float:
        """Take one token, sleeping until it exists; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            # Going negative reserves a future token, so concurrent callers queue fairly.
            self._tokens -= 1.0
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


class TargetLimits:
    """Holds each target's attempts on shared clients to the configured request rate."""

    def __init__(self, limit: RateLimit, context: CallContext) -> None:
        self._limit = limit
        self._context = context
        self._buckets: dict[TargetKey, TokenBucket] = {}

    def install(self, client: Any) -> None:
        """Make ``client`` wait for the calling thread's target's turn before each attempt."""
        if self._limit.requests_per_second <= 0:
            return

        def wait_turn(**_: Any) -> None:
            # Must return None: a before-send handler's return value replaces the request.
            target = self._context.target
            if target is not None:
                self._bucket(target).acquire()

        # First in line, so the wait is not counted as the attempt's duration.
        client.meta.events.register_first("before-send", wait_turn)

    def retain(self, targets: Iterable[TargetKey]) -> None:
        """Forget the buckets of targets no longer configured."""
        keep = set(targets)
        for target in [t for t in self._buckets if t not in keep]:
            del self._buckets[target]

    def _bucket(self, target: TargetKey) -> TokenBucket:
        bucket = self._buckets.get(target)
        if bucket is None:
            limit = self._limit
            bucket = self._buckets.setdefault(
                target, TokenBucket(limit.requests_per_second, limit.burst)
            )
        return bucket
