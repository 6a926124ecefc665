"""One poll worker process: polls the targets the main process hands it, ships each change back.

Started by ``exporter.polling.pool`` as ``python -m exporter.polling.worker``. It owns its
targets' AWS clients, credentials, rate-limit buckets, poller and API tallies; the main process
owns the configuration, discovery, the web side and ``/metrics``. Messages in:
``("restore", states, stats, lags)``, ``("configure", generation, config, targets,
concurrency)``, ``("poll_all_now",)`` and ``("stop",)``. Messages out:
``("update", generation, Update)``, sent when a poll finishes (batched over a few
milliseconds) and at least every second for tallies that move between polls.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from types import MappingProxyType
from typing import Any

from exporter.aws.clients import AwsClients
from exporter.config import Config
from exporter.core import memory
from exporter.core.histogram import Histogram
from exporter.core.logs import setup_logging
from exporter.core.model import CollectorState, Snapshot, TargetKey
from exporter.core.stats import ApiStats, ApiStatsView, TargetApiCounts
from exporter.polling.jobs import Wiring, clients_change, new_clients
from exporter.polling.poller import Poller
from exporter.polling.targets import Targets

log = logging.getLogger(__name__)

BATCH_SECONDS = 0.02  # polls finishing this close together go in one message
TALLY_SECONDS = 1.0  # API tallies move during retries, before the poll finishes

StateMap = dict[str, dict[TargetKey, CollectorState[Any]]]
JobKey = tuple[str, TargetKey]


def read_only(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


def _reduce_mapping_proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Any, ...]:
    return (read_only, (dict(proxy),))


# The frozen model uses read-only mappings, which pickle cannot send on its own. Only
# the pipes to and from workers learn how; pickling elsewhere is left as it was.
ForkingPickler.register(MappingProxyType, _reduce_mapping_proxy)


@dataclass(frozen=True)
class Update:
    """What changed since the last message: states, API tallies, duration histograms."""

    # (collector, target, state, data_as_sent): when True the state's data equals what
    # was sent last for that job, and goes as None: most polls find nothing new, and
    # pickling the same collaborations again was most of a worker's shipping cost.
    states: tuple[tuple[str, TargetKey, CollectorState[Any], bool], ...]
    removed: tuple[JobKey, ...]
    counts: tuple[tuple[TargetKey, TargetApiCounts | None], ...]
    durations: MappingProxyType[str, Histogram] | None  # None: unchanged
    full: bool  # the states cover every target and collector (after a configure)
    lags: MappingProxyType[str, Histogram] | None = None  # schedule lags; None: unchanged


class Diff:
    """Remembers what was sent, so each message carries only what changed (by identity)."""

    def __init__(self) -> None:
        self._states: StateMap = {}
        self._counts: dict[TargetKey, TargetApiCounts] = {}
        self._durations: object = None
        self._lags: object = None

    def reset(self) -> None:
        """Forget what was sent: the next message carries everything, data included."""
        self._states, self._counts, self._durations, self._lags = {}, {}, None, None

    def states(self, snapshot: Snapshot, dirty: set[JobKey] | None) -> tuple[Any, Any]:
        """Changed and removed states; ``dirty`` None compares everything."""
        current: dict[str, Any] = snapshot.by_collector()
        if dirty is not None:
            return tuple(self._changed(current, dirty)), ()
        removed = [
            (name, key)
            for name, sent in self._states.items()
            for key in sent
            if key not in current.get(name, {})
        ]
        for name, key in removed:
            del self._states[name][key]
        jobs = [(name, key) for name, states in current.items() for key in states]
        return tuple(self._changed(current, jobs)), tuple(removed)

    def _changed(self, current: dict[str, Any], jobs: Any) -> list[Any]:
        changed = []
        for name, key in jobs:
            state = current.get(name, {}).get(key)
            sent = self._states.setdefault(name, {})
            before = sent.get(key)
            if state is None or before is state:
                continue
            sent[key] = state
            if before is not None and state.data is not None and before.data == state.data:
                changed.append((name, key, replace(state, data=None), True))
            else:
                changed.append((name, key, state, False))
        return changed

    def tallies(self, view: ApiStatsView) -> tuple[Any, Any]:
        counts: list[tuple[TargetKey, TargetApiCounts | None]] = [
            (key, None) for key in self._counts if key not in view.targets
        ]
        for key, _ in counts:
            del self._counts[key]
        for key, value in view.targets.items():
            if self._counts.get(key) is not value:
                self._counts[key] = value
                counts.append((key, value))
        durations = dict(view.durations)
        if durations == self._durations:
            return tuple(counts), None
        self._durations = durations
        return tuple(counts), MappingProxyType(durations)

    def lags(self, lags: Mapping[str, Histogram]) -> MappingProxyType[str, Histogram] | None:
        """The schedule lags when they changed since the last message, else None."""
        found = dict(lags)
        if found == self._lags:
            return None
        self._lags = found
        return MappingProxyType(found)


class Worker:
    """The worker's poller and tallies, and the thread that ships their changes."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.stats = ApiStats()
        self.clients: AwsClients | None = None
        self.poller: Poller | None = None
        self._config: Config | None = None
        self._concurrency = 0
        self._generation = 0
        self._restored: StateMap = {}
        self._restored_lags: Mapping[str, Histogram] = {}
        self._lock = threading.Lock()
        self._dirty: set[JobKey] | None = None  # None: compare everything
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._diff = Diff()

    def serve(self) -> None:
        """Obey the main process until it says stop or goes away."""
        shipper = threading.Thread(target=self._ship_loop, name="worker-ship", daemon=True)
        shipper.start()
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                break  # the main process is gone: nobody to poll for
            if message[0] == "stop":
                break
            self._handle(message)
        self._stopping.set()
        if self.poller is not None:
            self.poller.stop()

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "restore":
            self._restored, self._restored_lags = message[1], message[3]
            self.stats.restore(message[2])
        elif kind == "configure":
            self._configure(*message[1:])
        elif kind == "resend":
            with self._lock:
                self._diff.reset()
                self._dirty = None
            self._wake.set()
        elif kind == "poll_all_now" and self.poller is not None:
            self.poller.poll_all_now()

    def _configure(
        self, generation: int, config: Config, targets: Targets, concurrency: int
    ) -> None:
        if self.poller is None or self.clients is None or self._config is None:
            self._start(config, targets, concurrency)
        else:
            if clients_change(self._config, config) or concurrency != self._concurrency:
                self.clients = new_clients(config, self.stats, concurrency)
            Wiring(self.clients, self.stats, config, targets).aim(self.poller, concurrency)
        self._config, self._concurrency = config, concurrency
        self._generation = generation
        log.info("polling %d targets with %d threads", len(targets), concurrency)
        self._changed(None)

    def _start(self, config: Config, targets: Targets, concurrency: int) -> None:
        self.clients = new_clients(config, self.stats, concurrency)
        wiring = Wiring(self.clients, self.stats, config, targets)
        poller = Poller(wiring.collector_jobs(), concurrency, on_publish=self._changed)
        # Before the targets, which keep what they find.
        poller.restore(self._restored, self._restored_lags)
        self._restored, self._restored_lags = {}, {}
        poller.set_targets(t for t, _ in targets.values())
        self.stats.retain(targets)
        self.poller = poller
        poller.start()

    def _changed(self, job: JobKey | None) -> None:
        with self._lock:
            if job is None:
                self._dirty = None
            elif self._dirty is not None:
                self._dirty.add(job)
        self._wake.set()

    def _ship_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(TALLY_SECONDS)
            self._wake.clear()
            time.sleep(BATCH_SECONDS)
            try:
                self.ship()
            except Exception as err:  # a bug: without this thread /metrics would freeze
                log.error("poll worker cannot ship its results: %s: %s", type(err).__name__, err)
                os._exit(1)  # the main process restarts it with what it last shipped

    def ship(self) -> None:
        poller = self.poller
        if poller is None:
            return
        generation = self._generation  # read before the snapshot: never newer than it
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        states, removed = self._diff.states(poller.snapshot, dirty)
        counts, durations = self._diff.tallies(self.stats.view())
        lags = self._diff.lags(poller.lags())
        moved = counts or durations is not None or lags is not None
        if not (states or removed or moved or dirty is None):
            return
        update = Update(states, removed, counts, durations, dirty is None, lags)
        try:
            self._conn.send(("update", generation, update))
        except (OSError, ValueError):
            self._stopping.set()  # the main process is gone; serve() sees EOF next


def main(argv: list[str]) -> int:
    """``python -m exporter.polling.worker FD INDEX LEVEL FORMAT``, started by the pool."""
    # The main process handles Ctrl-C and SIGHUP for the whole group, and stops its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    fd, index, level, fmt = argv
    memory.return_large_buffers()  # as the main process: its threads allocate alike
    setup_logging(level, fmt)
    for handler in logging.getLogger().handlers:  # a logger's own filter misses child loggers
        handler.addFilter(_WorkerField(index))
    Worker(Connection(int(fd))).serve()
    return 0


class _WorkerField(logging.Filter):
    """Every log line of a worker says which one it came from."""

    def __init__(self, index: str) -> None:
        super().__init__()
        self._index = index

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self._index
        return True


if __name__ == "__main__":
    # Run from the importable module, so that what it pickles is exporter.polling.worker's
    # classes, which the main process knows, not this __main__'s.
    from exporter.polling.worker import main as main_of_module

    sys.exit(main_of_module(sys.argv[1:]))
