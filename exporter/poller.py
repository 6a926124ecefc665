"""Background polling: per-target schedules, bounded concurrency, immutable snapshots.

Each target has its own next-due time on the monotonic clock (so wall-clock
jumps do not bunch or skip polls) and is never polled twice at once. Workers
build a new ``TargetState`` outside the lock and swap the snapshot reference.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import replace
from types import MappingProxyType

from exporter.model import PollData, PollError, Snapshot, Target, TargetKey, TargetState

log = logging.getLogger(__name__)


class PollFailed(Exception):
    """A target's poll failed in a known way; carries the secret-free ``PollError``."""

    def __init__(self, error: PollError) -> None:
        super().__init__(f"{error.operation}: {error.code}: {error.message}")
        self.error = error


PollFunction = Callable[[Target], PollData]

BACKOFF_FACTOR_CAP = 8  # a failing target waits at most 8 intervals ...
BACKOFF_SECONDS_CAP = 1800.0  # ... and at most 30 minutes (never less than one interval)


def backoff_delay(interval: float, consecutive_failures: int) -> float:
    """The delay before the next poll: the interval, doubled per failure in a row, capped."""
    if consecutive_failures <= 1:
        return interval
    factor: int = min(2 ** (consecutive_failures - 1), BACKOFF_FACTOR_CAP)
    return max(interval, min(interval * factor, BACKOFF_SECONDS_CAP))


class Poller:
    """Polls every target every ``interval`` seconds with at most ``concurrency`` at once."""

    def __init__(
        self,
        poll: PollFunction,
        interval: float,
        concurrency: int,
        *,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: float = 0.05,
        rng: random.Random | None = None,
    ) -> None:
        self._poll = poll
        self._interval = interval
        self._concurrency = concurrency
        self._wall = wall_clock
        self._mono = monotonic
        self._jitter = jitter
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._snapshot = Snapshot()
        self._targets: dict[TargetKey, Target] = {}
        self._next_due: dict[TargetKey, float] = {}
        self._in_flight: set[TargetKey] = set()
        self._queue: queue.Queue[Target | None] = queue.Queue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._threads: list[threading.Thread] = []
        self._workers = 0
        self._started = False

    @property
    def snapshot(self) -> Snapshot:
        """The latest snapshot; a plain attribute read, safe from any thread."""
        return self._snapshot

    def set_targets(self, targets: Iterable[Target]) -> None:
        """Replace the target list: new targets are due at once, removed ones vanish."""
        wanted = {t.key: t for t in targets}
        with self._lock:
            states = {
                key: (
                    replace(self._snapshot.states[key], target=target)
                    if key in self._snapshot.states
                    else TargetState(target=target)
                )
                for key, target in wanted.items()
            }
            now = self._mono()
            self._next_due = {key: self._next_due.get(key, now) for key in wanted}
            self._targets = wanted
            self._publish(states)
        self._wake.set()

    def reconfigure(self, poll: PollFunction, interval: float, concurrency: int) -> None:
        """Swap the poll function and interval; grow or shrink the worker pool (on reload)."""
        with self._lock:
            self._poll = poll
            if interval < self._interval:
                # A shorter interval applies now, not after the next poll of the old one.
                latest = self._mono() + interval
                self._next_due = {k: min(at, latest) for k, at in self._next_due.items()}
            self._interval = interval
            self._concurrency = concurrency
            started = self._started
        if started:
            self._resize_pool()
        self._wake.set()

    def poll_all_now(self) -> None:
        """Make every target due at once (benchmarks use it to time one full round)."""
        with self._lock:
            now = self._mono()
            self._next_due = dict.fromkeys(self._next_due, now)
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

    def stop(self, timeout: float = 2.0) -> None:
        """Stop scheduling; give in-flight polls ``timeout`` seconds, then abandon them."""
        self._stop.set()
        self._wake.set()
        for _ in range(self._workers):
            self._queue.put(None)
        deadline = self._mono() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - self._mono()))

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until every target has been polled once (or the timeout passes)."""
        return self._ready.wait(timeout)

    def _schedule(self) -> None:
        while not self._stop.is_set():
            now = self._mono()
            with self._lock:
                due = [
                    self._targets[key]
                    for key, at in self._next_due.items()
                    if at <= now and key not in self._in_flight
                ]
                self._in_flight.update(t.key for t in due)
                waiting = [at for key, at in self._next_due.items() if key not in self._in_flight]
            for target in due:
                self._queue.put(target)
            # Wake at the next due time, but at least every second so a stop,
            # a reload or a finished poll is noticed promptly.
            delay = min([1.0, *(at - now for at in waiting)])
            self._wake.wait(max(delay, 0.01))
            self._wake.clear()

    def _work(self) -> None:
        while True:
            target = self._queue.get()
            if target is None or self._stop.is_set():
                return
            with self._lock:
                current = self._targets.get(target.key)
                if current is None:  # removed by a reload while it waited in the queue
                    self._in_flight.discard(target.key)
                    continue
            started = self._mono()
            state = self._poll_one(current, started)
            self._finish(state, started)
            self._wake.set()

    def _finish(self, state: TargetState, started: float) -> None:
        key = state.target.key
        finished = self._mono()
        with self._lock:
            self._in_flight.discard(key)
            current = self._targets.get(key)
            if current is None:
                return  # removed while it was polled: its result has nowhere to go
            delay = self._next_delay(state.consecutive_failures)
            self._next_due[key] = max(finished, started + delay)
            states = dict(self._snapshot.states)
            # The configured target wins: a rename by a reload during the poll stays.
            states[key] = replace(state, target=current)
            self._publish(states)

    def _poll_one(self, target: Target, started: float) -> TargetState:
        old = self._snapshot.states.get(target.key) or TargetState(target=target)
        poll = self._poll  # read once: a reload may swap it mid-poll
        try:
            data = poll(target)
        except PollFailed as failed:
            return self._failed(old, failed.error, started)
        except Exception as err:  # a worker thread must survive any bug or library surprise
            # The frames, not the message: a library's message can quote a raw response.
            frames = "".join(traceback.format_tb(err.__traceback__))
            log.error(
                "unexpected error polling account=%s region=%s error=%s\n%s",
                *target.key,
                type(err).__name__,
                frames,
            )
            error = PollError("ListCollaborations", type(err).__name__, "unexpected error")
            return self._failed(old, error, started)
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

    def _failed(self, old: TargetState, error: PollError, started: float) -> TargetState:
        account_id, region = old.target.key
        log.warning(
            "poll failed account=%s region=%s operation=%s error_code=%s message=%r",
            account_id,
            region,
            error.operation,
            error.code,
            error.message,
        )
        return replace(
            old,
            up=False,
            polled=True,
            polls=old.polls + 1,
            failures=old.failures + 1,
            consecutive_failures=old.consecutive_failures + 1,
            last_duration=self._mono() - started,
            last_error=error,
        )

    def _next_delay(self, consecutive_failures: int) -> float:
        # Jitter spreads targets apart so they do not all hit AWS in the same second.
        delay = backoff_delay(self._interval, consecutive_failures)
        return delay * (1 + self._rng.uniform(-self._jitter, self._jitter))

    def _publish(self, states: dict[TargetKey, TargetState]) -> None:
        # Called with the lock held: only the reference swap is shared.
        self._snapshot = Snapshot(MappingProxyType(states))
        # Tracks the current snapshot: targets added later (reload, discovery) unset it.
        if self._snapshot.ready:
            self._ready.set()
        else:
            self._ready.clear()
