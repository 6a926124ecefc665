"""Thread-safe tallies of AWS API attempts, fed by botocore event hooks."""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

# Seconds; ListCollaborations normally answers in 50-500 ms, retries and
# throttling push the tail into seconds.
DURATION_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

ApiKey = tuple[str, str, str]  # (account_id, region, operation)
ErrorKey = tuple[str, str, str, str]  # (account_id, region, operation, error_code)


@dataclass(frozen=True)
class Histogram:
    """Per-bucket (not cumulative) counts, one slot per bound plus +Inf; sum and count."""

    bounds: tuple[float, ...]
    buckets: tuple[int, ...]
    total: float
    count: int


@dataclass(frozen=True)
class ApiStatsView:
    """A consistent copy of the tallies, taken under the lock, read without it."""

    requests: dict[ApiKey, int]
    errors: dict[ErrorKey, int]
    throttles: dict[ApiKey, int]
    durations: dict[str, Histogram]


class ApiStats:
    """Counts every API attempt, error and throttle; records attempt durations by operation."""

    def __init__(self, buckets: tuple[float, ...] = DURATION_BUCKETS) -> None:
        self.bounds = buckets
        self._lock = threading.Lock()
        self._requests: Counter[ApiKey] = Counter()
        self._errors: Counter[ErrorKey] = Counter()
        self._throttles: Counter[ApiKey] = Counter()
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}

    def request(self, key: ApiKey) -> None:
        """Count one attempt, before it is sent, so attempts that never get an answer count."""
        with self._lock:
            self._requests[key] += 1

    def outcome(
        self, key: ApiKey, duration: float | None, error_code: str | None, throttled: bool
    ) -> None:
        """Record how one attempt ended."""
        account_id, region, operation = key
        with self._lock:
            if error_code is not None:
                self._errors[(account_id, region, operation, error_code)] += 1
            if throttled:
                self._throttles[key] += 1
            if duration is not None:
                slots = self._buckets.setdefault(operation, [0] * (len(self.bounds) + 1))
                slots[bisect.bisect_left(self.bounds, duration)] += 1
                self._sums[operation] = self._sums.get(operation, 0.0) + duration

    def view(self) -> ApiStatsView:
        with self._lock:
            return ApiStatsView(
                requests=dict(self._requests),
                errors=dict(self._errors),
                throttles=dict(self._throttles),
                durations={
                    op: Histogram(self.bounds, tuple(slots), self._sums.get(op, 0.0), sum(slots))
                    for op, slots in self._buckets.items()
                },
            )

    def retain(self, targets: Iterable[tuple[str, str]]) -> None:
        """Drop the series of targets no longer configured (after a reload)."""
        keep = set(targets)
        with self._lock:
            for counter in (self._requests, self._errors, self._throttles):
                for key in [k for k in counter if (k[0], k[1]) not in keep]:
                    del counter[key]
