"""Background polling: per-target, per-collector schedules, bounded concurrency, snapshots.

Each (collector, target) job has its own next-due time on the monotonic clock (so
wall-clock jumps do not bunch or skip polls), its own back-off, and is never run
twice at once. Workers build a new ``CollectorState`` outside the lock and swap the
snapshot reference. A collector that fans out from another's data waits for that
collector's first poll of the target; after that, no collector waits for another.
The poller knows collectors only by their jobs: which one is the primary (the
target's own state) and which one each fans out from.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from exporter.core.histogram import Histogram
from exporter.core.logs import format_tb
from exporter.core.model import CollectorState, PollError, Snapshot, Target, TargetKey
from exporter.polling.failures import PollFailed, backoff_delay, failed_state
from exporter.polling.schedule import CollectorJob, JobKey, ScheduleLag

__all__ = ["CollectorJob", "JobKey", "Poller"]

log = logging.getLogger(__name__)


# How long a stop waits for polls in flight before it abandons them (a hung AWS call).
# With the rest of a stop this fits the two seconds docs/operations.md promises.
STOP_SECONDS = 0.5


class Poller:
    """Polls every target with every collector's job, at most ``concurrency`` polls at once.

    Exactly one job is the primary; each job has its own interval.
    """

    def __init__(
        self,
        jobs: Sequence[CollectorJob],
        concurrency: int,
        *,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: float = 0.05,
        rng: random.Random | None = None,
        on_publish: Callable[[JobKey | None], None] | None = None,
    ) -> None:
        self._on_publish = on_publish  # a poll worker process ships each change to /metrics
        self._concurrency = concurrency
        self._wall = wall_clock
        self._mono = monotonic
        self._jitter = jitter
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._snapshot = Snapshot()
        self._targets: dict[TargetKey, Target] = {}
        self._jobs: dict[str, CollectorJob] = {}
        self._primary = ""
        self._states: dict[str, dict[TargetKey, CollectorState[Any]]] = {}
        self._next_due: dict[JobKey, float] = {}
        self._lag = ScheduleLag()
        self._in_flight: set[JobKey] = set()
        self._queue: queue.Queue[JobKey | None] = queue.Queue()
        self._wake = threading.Event()
        self._sleep_until = 0.0  # when the scheduler plans to look at the jobs again
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._threads: list[threading.Thread] = []
        self._workers = 0
        self._started = False
        self._set_jobs(jobs)

    @property
    def snapshot(self) -> Snapshot:
        """The latest snapshot; a plain attribute read, safe from any thread."""
        return self._snapshot

    def set_targets(self, targets: Iterable[Target]) -> None:
        """Replace the target list: new targets are due at once, removed ones vanish."""
        wanted = {t.key: t for t in targets}
        with self._lock:
            self._targets = wanted
            for name in self._states:
                self._states[name] = self._kept_states(name, wanted)
            self._reschedule()
            self._publish()
        self._wake.set()

    def restore(
        self,
        states: Mapping[str, Mapping[TargetKey, CollectorState[Any]]],
        lags: Mapping[str, Histogram] | None = None,
    ) -> None:
        """Take over states of an earlier poller (a restarted worker process) before targets.

        Counters, last good data, remembered analyses and schedule lags carry on instead
        of starting again; only states of targets and collectors set afterwards are kept.
        """
        with self._lock:
            self._lag.restore(lags or {})
            for name, found in states.items():
                if name in self._states:  # a collector disabled meanwhile starts nothing
                    self._states[name].update(found)

    def _set_jobs(self, jobs: Sequence[CollectorJob]) -> None:
        primaries = [job.name for job in jobs if job.primary]
        if len(primaries) != 1:
            raise ValueError(f"exactly one primary collector expected, got {primaries}")
        old = self._jobs
        self._jobs = {job.name: job for job in jobs}
        self._primary = primaries[0]
        self._states = {name: self._states.get(name, {}) for name in self._jobs}
        for name in self._jobs:
            self._states[name] = self._kept_states(name, self._targets)
            previous = old.get(name)
            if previous is not None and self._jobs[name].interval < previous.interval:
                self._shorten(name, self._jobs[name].interval)
        self._reschedule()

    def _kept_states(
        self, name: str, wanted: dict[TargetKey, Target]
    ) -> dict[TargetKey, CollectorState[Any]]:
        current = self._states.get(name, {})
        return {
            key: replace(current[key], target=target) if key in current else CollectorState(target)
            for key, target in wanted.items()
        }

    def _reschedule(self) -> None:
        """One next-due time per (collector, target); new jobs are due now."""
        now = self._mono()
        self._next_due = {
            (name, key): self._next_due.get((name, key), now)
            for name in self._states
            for key in self._targets
        }
        self._lag.keep(self._next_due, self._jobs)

    def lags(self) -> Mapping[str, Histogram]:
        """How late scheduled polls started, by collector (``schedule.ScheduleLag``)."""
        with self._lock:
            return self._lag.view()

    def _shorten(self, name: str, interval: float) -> None:
        # A shorter interval applies now, not after the next poll of the old one.
        latest = self._mono() + interval
        for job, at in self._next_due.items():
            if job[0] == name:
                self._next_due[job] = min(at, latest)
        self._lag.shorten(name, latest)

    def reconfigure(self, jobs: Sequence[CollectorJob], concurrency: int) -> None:
        """Swap the jobs (polls and intervals); grow or shrink the worker pool (on reload)."""
        with self._lock:
            self._concurrency = concurrency
            self._set_jobs(jobs)
            self._publish()
            started = self._started
        if started:
            self._resize_pool()
        self._wake.set()

    def poll_all_now(self) -> None:
        """Make every job due at once (benchmarks use it to time one full round)."""
        with self._lock:
            now = self._mono()
            self._next_due = dict.fromkeys(self._next_due, now)
            self._lag.unplan()
        self._wake.set()

    def start(self) -> None:
        """Start the scheduler and ``concurrency`` worker threads."""
        self._started = True
        scheduler = threading.Thread(target=self._schedule, name="poll-scheduler", daemon=True)
        self._threads.append(scheduler)
        scheduler.start()
        self._resize_pool()

    def _resize_pool(self) -> None:
        with self._lock:
            missing = self._concurrency - self._workers
            self._workers = self._concurrency
        for _ in range(missing):
            thread = threading.Thread(target=self._work, name="poll-worker", daemon=True)
            self._threads.append(thread)
            thread.start()
        for _ in range(-missing):
            self._queue.put(None)  # one worker exits per sentinel, after its current poll

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop scheduling; give in-flight polls ``timeout`` seconds, then abandon them."""
        self._stop.set()
        self._wake.set()
        for _ in range(self._workers):
            self._queue.put(None)
        deadline = self._mono() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - self._mono()))

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until every collector has polled every target once (or the timeout passes)."""
        return self._ready.wait(timeout)

    def _schedule(self) -> None:
        while not self._stop.is_set():
            now = self._mono()
            with self._lock:
                due, waiting = self._due(now)
                self._in_flight.update(due)
                # Wake at the next due time, but at least every second so a stop or
                # a reload is noticed promptly; a finished poll wakes it only if needed.
                delay = max(min([1.0, *(at - now for at in waiting)]), 0.01)
                self._sleep_until = now + delay
            for job in due:
                self._queue.put(job)
            self._wake.wait(delay)
            self._wake.clear()

    def _due(self, now: float) -> tuple[list[JobKey], list[float]]:
        """Jobs to start now, and the due times of the others (lock held)."""
        due: list[JobKey] = []
        waiting: list[float] = []
        for job, at in self._next_due.items():
            if job in self._in_flight:
                continue
            name, key = job
            parent = self._jobs[name].fans_out_from
            if parent is not None and not _polled(self._states.get(parent, {}).get(key)):
                continue  # the parent collector's first poll wakes the scheduler again
            if at <= now:
                due.append(job)
            else:
                waiting.append(at)
        return due, waiting

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None or self._stop.is_set():
                return
            name, key = job
            with self._lock:
                target = self._targets.get(key)
                if target is None or name not in self._jobs:  # removed by a reload while it waited
                    self._in_flight.discard(job)
                    continue
                started = self._mono()
                self._lag.started(job, started, self._jobs[name].interval)
            state = self._poll_one(name, target, started)
            if self._finish(name, state, started):
                self._wake.set()

    def _finish(self, name: str, state: CollectorState[Any], started: float) -> bool:
        """Record a finished poll; True when the scheduler must look again before it planned.

        Waking it after every poll made it scan every job once per poll: quadratic in
        the targets, and a context switch per poll on a busy GIL.
        """
        key = state.target.key
        finished = self._mono()
        with self._lock:
            self._in_flight.discard((name, key))
            current = self._targets.get(key)
            states = self._states.get(name)
            job = self._jobs.get(name)
            if current is None or states is None or job is None:
                return False  # removed while it was polled: its result has nowhere to go
            delay = self._next_delay(job.interval, state.consecutive_failures)
            # Lag counts from when the schedule wanted it, even if this poll overran it.
            self._lag.plan((name, key), started + delay)
            due = self._next_due[(name, key)] = max(finished, started + delay)
            first = not _polled(states.get(key))
            # The configured target wins: a rename by a reload during the poll stays.
            states[key] = replace(state, target=current)
            self._publish(name)
            if self._on_publish is not None:
                self._on_publish((name, key))
            # Fan-out collectors wait for the first poll of the collector they need.
            waited_for = first and any(j.fans_out_from == name for j in self._jobs.values())
            return waited_for or due < self._sleep_until

    def _poll_one(self, name: str, target: Target, started: float) -> CollectorState[Any]:
        old = self._states.get(name, {}).get(target.key) or CollectorState(target)
        try:
            data = self._run(name, target, old.data)
        except PollFailed as failed:
            return self._failed(name, old, failed.error, started)
        except Exception as err:  # a worker thread must survive any bug or library surprise
            # The frames, not the message: a library's message can quote a raw response.
            frames = format_tb(err)
            log.error(
                "unexpected error polling: %s\n%s",
                type(err).__name__,
                frames,
                extra={"collector": name, "account": target.key[0], "region": target.key[1]},
            )
            operation = self._operation(name)
            error = PollError(operation, type(err).__name__, "unexpected error")
            return self._failed(name, old, error, started)
        if old.data is not None and data is not old.data and data == old.data:
            # Most polls find nothing new: keeping the old object lets the renderer, the
            # worker's messages and the scrape see "unchanged" by identity, for free.
            data = old.data
        return replace(
            old,
            data=data,
            up=True,
            polled=True,
            polls=old.polls + 1,
            consecutive_failures=0,
            last_success=self._wall(),
            last_success_monotonic=self._mono(),
            last_duration=self._mono() - started,
            last_error=None,
        )

    def _run(self, name: str, target: Target, previous: Any) -> Any:
        job = self._jobs[name]  # read once: a reload may swap it mid-poll
        source = job.fans_out_from
        parent = self._states.get(source, {}).get(target.key) if source else None
        return job.poll(target, parent.data if parent is not None else None, previous)

    def _operation(self, name: str) -> str:
        job = self._jobs.get(name)
        return job.operation if job is not None else ""

    def _failed(
        self, name: str, old: CollectorState[Any], error: PollError, started: float
    ) -> CollectorState[Any]:
        return failed_state(name, old, error, self._mono() - started)

    def _next_delay(self, interval: float, consecutive_failures: int) -> float:
        # Jitter spreads targets apart so they do not all hit AWS in the same second.
        delay = backoff_delay(interval, consecutive_failures)
        return delay * (1 + self._rng.uniform(-self._jitter, self._jitter))

    def _publish(self, changed: str | None = None) -> None:
        # Called with the lock held: only the reference swap is shared. Collectors
        # other than ``changed`` keep their published (immutable) views.
        old = self._snapshot
        primary = self._primary
        views = {
            name: (
                old.collectors[name]
                if name != changed and changed is not None and name in old.collectors
                else MappingProxyType(dict(states))
            )
            for name, states in self._states.items()
            if name != primary
        }
        own = (
            old.states
            if changed is not None and changed != primary and old.primary == primary
            else MappingProxyType(dict(self._states[primary]))
        )
        self._snapshot = Snapshot(own, MappingProxyType(views), primary)
        if self._on_publish is not None and changed is None:
            self._on_publish(None)  # anything may have changed
        if changed is not None and self._ready.is_set():
            return  # a finished poll never makes a ready snapshot unready: skip the O(n) check
        # Tracks the current snapshot: targets added later (reload, discovery) unset it.
        if self._snapshot.ready:
            self._ready.set()
        else:
            self._ready.clear()


def _polled(state: CollectorState[Any] | None) -> bool:
    return state is not None and state.polled
