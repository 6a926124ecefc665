"""Thread-safe tallies of AWS API attempts, fed by botocore event hooks.

Each target's counts are an immutable object replaced on every change, so a
reader copies one small dict of references and renders outside the lock, and
a renderer can tell a target's counts have not changed by identity alone.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from exporter.core.histogram import Histogram
from exporter.core.model import TargetKey

# Seconds; ListCollaborations normally answers in 50-500 ms, retries and
# throttling push the tail into seconds.
DURATION_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

ApiKey = tuple[str, str, str]  # (account_id, region, operation)

_EMPTY: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True)
class TargetApiCounts:
    """One target's attempts, errors by (operation, code) and throttles, by operation."""

    requests: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    errors: Mapping[tuple[str, str], int] = field(default_factory=lambda: MappingProxyType({}))
    throttles: Mapping[str, int] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class ApiStatsView:
    """A consistent copy of the tallies, taken under the lock, read without it."""

    targets: Mapping[TargetKey, TargetApiCounts]
    durations: Mapping[str, Histogram]


def _bump(counts: Mapping[str, int], key: str) -> Mapping[str, int]:
    return MappingProxyType({**counts, key: counts.get(key, 0) + 1})


class StatsSource(Protocol):
    """Where the collector reads API tallies: ``ApiStats``, or the poll workers' merged."""

    def view(self) -> ApiStatsView: ...


def merge_views(views: Iterable[ApiStatsView]) -> ApiStatsView:
    """Tallies of processes that own disjoint targets; durations summed by operation."""
    targets: dict[TargetKey, TargetApiCounts] = {}
    durations: dict[str, Histogram] = {}
    for view in views:
        targets.update(view.targets)
        for op, h in view.durations.items():
            old = durations.get(op)
            durations[op] = h if old is None else old.merged(h)
    return ApiStatsView(MappingProxyType(targets), MappingProxyType(durations))


class ApiStats:
    """Counts every API attempt, error and throttle; records attempt durations by operation."""

    def __init__(self, buckets: tuple[float, ...] = DURATION_BUCKETS) -> None:
        self.bounds = buckets
        self._lock = threading.Lock()
        self._targets: dict[TargetKey, TargetApiCounts] = {}
        self._allowed: set[TargetKey] | None = None  # set by retain(); None: count everything
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}

    def request(self, key: ApiKey) -> None:
        """Count one attempt, before it is sent, so attempts that never get an answer count."""
        account_id, region, operation = key
        with self._lock:
            if not self._counts((account_id, region)):
                return
            old = self._targets.get((account_id, region), TargetApiCounts())
            new = TargetApiCounts(_bump(old.requests, operation), old.errors, old.throttles)
            self._targets[(account_id, region)] = new

    def outcome(
        self, key: ApiKey, duration: float | None, error_code: str | None, throttled: bool
    ) -> None:
        """Record how one attempt ended."""
        account_id, region, operation = key
        with self._lock:
            if not self._counts((account_id, region)):
                return
            if error_code is not None or throttled:
                self._count_failure((account_id, region), operation, error_code, throttled)
            if duration is not None:
                slots = self._buckets.setdefault(operation, [0] * (len(self.bounds) + 1))
                slots[bisect.bisect_left(self.bounds, duration)] += 1
                self._sums[operation] = self._sums.get(operation, 0.0) + duration

    def _count_failure(
        self, target: TargetKey, operation: str, error_code: str | None, throttled: bool
    ) -> None:
        old = self._targets.get(target, TargetApiCounts())
        errors = old.errors
        if error_code is not None:
            errors = MappingProxyType(
                {**errors, (operation, error_code): errors.get((operation, error_code), 0) + 1}
            )
        throttles = _bump(old.throttles, operation) if throttled else old.throttles
        self._targets[target] = TargetApiCounts(old.requests, errors, throttles)

    def view(self) -> ApiStatsView:
        with self._lock:
            return ApiStatsView(
                targets=MappingProxyType(dict(self._targets)),
                durations=MappingProxyType(
                    {
                        op: Histogram(
                            self.bounds, tuple(slots), self._sums.get(op, 0.0), sum(slots)
                        )
                        for op, slots in self._buckets.items()
                    }
                ),
            )

    def restore(self, view: ApiStatsView) -> None:
        """Carry on from another tally's counts (a restarted worker process), so none falls."""
        with self._lock:
            self._targets.update(view.targets)
            for op, histogram in view.durations.items():
                self._buckets[op] = list(histogram.buckets)
                self._sums[op] = histogram.total

    def retain(self, targets: Iterable[TargetKey]) -> None:
        """Drop the series of targets no longer configured (after a reload)."""
        keep = set(targets)
        with self._lock:
            # Polls of removed targets still in flight must not bring their series back.
            self._allowed = keep
            for key in [k for k in self._targets if k not in keep]:
                del self._targets[key]

    def _counts(self, target: TargetKey) -> bool:
        return self._allowed is None or target in self._allowed
