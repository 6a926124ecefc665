"""A collector's job as the poller sees it, and how late its scheduled polls start.

The lag of a poll is how long after its due time it started, as a fraction of its
collector's interval: 0.1 is a tenth of the interval late, whatever the interval. It is
measured against the time the schedule set (the previous start plus the interval, or the
back-off), so a wait for a free poll thread, a scheduler that cannot keep up and a poll that
overran its interval all show. Only polls the schedule made due count: a job's first poll
(at start-up, for a new target or collector) and polls made due all at once
(``poll_all_now``) are a burst by design, not lateness.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from exporter.core.histogram import Histogram
from exporter.core.model import Target, TargetKey

# A collector's poll: the target, the last good data of the collector it fans out from
# (None when it fans out from none or that one has none), and its own last good data for the target
# (None before its first success).
CollectorPoll = Callable[[Target, Any, Any], Any]
JobKey = tuple[str, TargetKey]  # (collector name, target)
# Fractions of the interval: on time (the scheduler's own granularity) up to whole
# intervals late; the alert's threshold, 0.1, is a bound.
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class CollectorJob:
    """How one collector is polled."""

    name: str
    poll: CollectorPoll
    interval: float
    operation: str  # named in the error of a poll that failed on a bug
    fans_out_from: str | None = None  # waits for that collector's first poll of each target
    primary: bool = False  # its state is the target's own (Snapshot.states)


class ScheduleLag:
    """When each job is due by its schedule, and how late polls started, by collector.

    Not locked: the poller calls it with its own lock held.
    """

    def __init__(self, bounds: tuple[float, ...] = LAG_BUCKETS) -> None:
        self._bounds = bounds
        self._planned: dict[JobKey, float] = {}
        self._lags: dict[str, Histogram] = {}

    def plan(self, job: JobKey, due: float) -> None:
        """The schedule wants ``job`` to start at ``due`` (monotonic seconds)."""
        self._planned[job] = due

    def started(self, job: JobKey, at: float, interval: float) -> None:
        """``job`` started at ``at``: record its lag if the schedule had made it due."""
        due = self._planned.pop(job, None)
        if due is None or interval <= 0:
            return
        lag = max(0.0, at - due) / interval
        found = self._lags.get(job[0]) or Histogram.empty(self._bounds)
        self._lags[job[0]] = found.add(lag)

    def shorten(self, name: str, latest: float) -> None:
        """A shorter interval: no job of ``name`` is due later than ``latest``."""
        for job, due in self._planned.items():
            if job[0] == name:
                self._planned[job] = min(due, latest)

    def unplan(self) -> None:
        """Every job was made due at once: their next polls are not late for anything."""
        self._planned.clear()

    def keep(self, jobs: Iterable[JobKey], names: Iterable[str]) -> None:
        """Forget jobs and collectors no longer configured."""
        wanted, collectors = set(jobs), set(names)
        self._planned = {j: d for j, d in self._planned.items() if j in wanted}
        self._lags = {n: h for n, h in self._lags.items() if n in collectors}

    def restore(self, lags: Mapping[str, Histogram]) -> None:
        """Carry on from an earlier poller's histograms (a restarted worker process)."""
        self._lags.update(lags)

    def view(self) -> Mapping[str, Histogram]:
        """The histograms by collector (immutable values: a copy of the mapping is enough)."""
        return MappingProxyType(dict(self._lags))
