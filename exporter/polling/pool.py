"""Poll worker processes behind one ``/metrics``: each owns a fixed share of the accounts.

One Python process runs one call's Python at a time; with ``poll_workers: N`` the
polling moves into N processes (``exporter.polling.worker``), so N cores poll at once. The
main process keeps the configuration, discovery, the web side and ``/metrics``; it
hands each worker the targets it owns (rendezvous hashing of the account id, so an
account's regions, role and rate-limit buckets stay in one process and a target never
moves while the count stays) and merges what they ship back into one snapshot and
one set of API tallies. A worker that dies is restarted with the states and tallies
it last shipped, so no counter falls and no analysis is counted twice.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from types import MappingProxyType
from typing import Any

from exporter.collectors import PRIMARY
from exporter.config import Config
from exporter.core.histogram import Histogram
from exporter.core.logs import JsonFormatter, format_tb
from exporter.core.model import CollectorState, Snapshot, TargetKey, WorkerStatus
from exporter.core.stats import ApiStatsView, TargetApiCounts, merge_views
from exporter.polling import worker
from exporter.polling.sharding import split_targets, worker_concurrency
from exporter.polling.targets import Targets

log = logging.getLogger(__name__)

RESTART_DELAY_CAP = 30.0  # seconds between restarts of a worker that keeps dying
# A worker's grace before it is killed: its own poller's (poller.STOP_SECONDS) and the
# time to exit, within the two seconds a stop may take (docs/operations.md).
STOP_SECONDS = 1.0


@dataclass
class _Handle:
    """The main process's view of one worker: its process, and what it last shipped."""

    index: int
    conn: Connection | None = None
    process: subprocess.Popen[bytes] | None = None
    states: dict[str, dict[TargetKey, CollectorState[Any]]] = field(default_factory=dict)
    counts: dict[TargetKey, TargetApiCounts] = field(default_factory=dict)
    durations: Mapping[str, Histogram] = field(default_factory=dict)
    lags: Mapping[str, Histogram] = field(default_factory=dict)  # schedule lags
    generation: int = -1  # the configuration it last reported states for
    up: bool = False
    restarts: int = 0
    targets: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)  # sends on conn


class WorkerPool:
    """Duck-types ``Poller`` for ``App``: ``snapshot``, ``start``, ``stop``, ``wait_ready``."""

    def __init__(self, count: int, log_level: str = "info", log_format: str = "logfmt") -> None:
        self.count = count
        self._log = (log_level, log_format)
        self._handles = [_Handle(i) for i in range(count)]
        self._cond = threading.Condition()
        self._snapshot = Snapshot()
        self._names: tuple[str, ...] = ()  # enabled collectors besides the primary
        self._generation = 0
        self._configured: tuple[Config, list[Targets], int] | None = None
        self._wanted: set[TargetKey] | None = None  # targets of the current configuration
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def configure(self, config: Config, targets: Targets) -> None:
        """Hand every worker its share of ``targets`` under ``config`` (start-up and reload)."""
        shares = split_targets(targets, self.count)
        concurrency = worker_concurrency(config.concurrency, self.count)
        with self._cond:
            self._generation += 1
            self._configured = (config, shares, concurrency)
            self._wanted = set(targets)
            self._names = tuple(s.name for s in config.schedules() if s.name != PRIMARY.name)
            for handle in self._handles:
                handle.targets = len(shares[handle.index])
                # A removed target goes now, not at the worker's next message.
                found: list[dict[TargetKey, Any]] = [*handle.states.values(), handle.counts]
                for mapping in found:
                    for key in [k for k in mapping if k not in self._wanted]:
                        del mapping[key]
            self._publish()
        for handle in self._handles:
            self._send_configure(handle)

    def _send_configure(self, handle: _Handle) -> None:
        with self._cond:
            if self._configured is None:
                return
            config, shares, concurrency = self._configured
            message = ("configure", self._generation, config, shares[handle.index], concurrency)
        self._send(handle, message)

    def _send(self, handle: _Handle, message: tuple[Any, ...]) -> None:
        with handle.lock:
            if handle.conn is None:
                return  # not running: its supervisor sends the configuration on restart
            try:
                handle.conn.send(message)
            except (OSError, ValueError) as err:  # died: its supervisor restarts it
                log.warning("poll worker %d: cannot send: %s", handle.index, err)

    def start(self) -> None:
        for handle in self._handles:
            thread = threading.Thread(
                target=self._supervise, args=(handle,), name=f"worker-{handle.index}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        self._stopping.set()
        for handle in self._handles:
            self._send(handle, ("stop",))
        deadline = time.monotonic() + timeout
        for handle in self._handles:
            if handle.process is not None:
                _reap(handle.process, max(0.0, deadline - time.monotonic()))
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def pids(self) -> list[int | None]:
        """Each worker's process id (None while it is being restarted)."""
        return [h.process.pid if h.process is not None else None for h in self._handles]

    def poll_all_now(self) -> None:
        for handle in self._handles:
            self._send(handle, ("poll_all_now",))

    @property
    def ready(self) -> bool:
        """Every worker reported the current configuration, and every target polled once."""
        with self._cond:
            return self._ready()

    def _ready(self) -> bool:
        current = all(h.generation == self._generation for h in self._handles)
        return current and self._snapshot.ready

    def wait_ready(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(self._ready, timeout)

    def view(self) -> ApiStatsView:
        """The workers' API tallies, merged (targets are disjoint across workers)."""
        with self._cond:
            views = [
                ApiStatsView(MappingProxyType(dict(h.counts)), MappingProxyType(dict(h.durations)))
                for h in self._handles
            ]
        return merge_views(views)

    def lags(self) -> Mapping[str, Histogram]:
        """The workers' schedule lags, summed by collector."""
        merged: dict[str, Histogram] = {}
        with self._cond:
            for handle in self._handles:
                for name, found in handle.lags.items():
                    old = merged.get(name)
                    merged[name] = found if old is None else old.merged(found)
        return MappingProxyType(merged)

    def _supervise(self, handle: _Handle) -> None:
        """Run the worker; when it dies, restart it with what it last shipped."""
        delay = 1.0
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self._run(handle)
            except Exception as err:  # a bug here must not leave the worker unwatched
                log.error(
                    "poll worker %d: %s\n%s", handle.index, type(err).__name__, format_tb(err)
                )
                if handle.process is not None:
                    _reap(handle.process, 0.0)
            if self._stopping.is_set():
                return
            code = handle.process.returncode if handle.process is not None else None
            log.error("poll worker %d exited (code %s); restarting it", handle.index, code)
            handle.restarts += 1
            # A worker that dies at once again and again is restarted ever more slowly.
            delay = 1.0 if time.monotonic() - started > 60 else min(delay * 2, RESTART_DELAY_CAP)
            self._stopping.wait(delay)

    def _run(self, handle: _Handle) -> None:
        parent, process = self._spawn(handle.index)
        with self._cond:
            states = {name: dict(found) for name, found in handle.states.items()}
            seed = ("restore", states, self._handle_view(handle), dict(handle.lags))
        with handle.lock:
            handle.conn, handle.process = parent, process
            # Under the lock: what a worker restores must reach it before any configuration.
            try:
                parent.send(seed)
            except (OSError, ValueError) as err:
                log.warning("poll worker %d: cannot send: %s", handle.index, err)
        handle.up = True
        self._send_configure(handle)
        try:
            self._receive(handle, parent)
        finally:
            handle.up = False
            with handle.lock:
                handle.conn = None
            parent.close()
            _reap(process)

    def _spawn(self, index: int) -> tuple[Connection, subprocess.Popen[bytes]]:
        """A fresh interpreter running ``exporter.polling.worker``, and a pipe to it.

        Not multiprocessing's spawn, which imports the program's main module again in
        the child: a program embedding the exporter would start over in every worker.
        """
        ours, theirs = socket.socketpair()
        with ours, theirs:
            command = [sys.executable, "-m", "exporter.polling.worker", str(theirs.fileno())]
            command += [str(index), *self._log]
            process = subprocess.Popen(  # noqa: S603 (this interpreter, fixed arguments)
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=[theirs.fileno()],
            )
            return Connection(os.dup(ours.fileno())), process

    def _handle_view(self, handle: _Handle) -> ApiStatsView:
        return ApiStatsView(
            MappingProxyType(dict(handle.counts)), MappingProxyType(dict(handle.durations))
        )

    def _receive(self, handle: _Handle, conn: Connection) -> None:
        while True:
            try:
                kind, generation, update = conn.recv()
            except (EOFError, OSError):
                return
            except Exception as err:  # a message it cannot read: start the worker afresh
                log.error("poll worker %d sent %s: %s", handle.index, type(err).__name__, err)
                if handle.process is not None:
                    handle.process.kill()
                return
            if kind == "update":
                self._apply(handle, generation, update)

    def _apply(self, handle: _Handle, generation: int, update: worker.Update) -> None:
        with self._cond:
            self._take_states(handle, update)
            for name, key in update.removed:
                handle.states.get(name, {}).pop(key, None)
            wanted = self._wanted
            for target, counts in update.counts:
                if counts is None or (wanted is not None and target not in wanted):
                    handle.counts.pop(target, None)
                else:
                    handle.counts[target] = counts
            if update.durations is not None:
                handle.durations = update.durations
            if update.lags is not None:
                handle.lags = update.lags
            if update.full:
                handle.generation = generation
            self._publish()

    def _take_states(self, handle: _Handle, update: worker.Update) -> None:
        wanted = self._wanted
        for name, key, shipped, data_as_sent in update.states:
            if wanted is not None and key not in wanted:
                continue  # one a reload removed since
            states = handle.states.setdefault(name, {})
            state = shipped
            if data_as_sent:
                before = states.get(key)
                if before is None:  # only if the two sides diverged: start over
                    self._send(handle, ("resend",))
                    continue
                state = replace(shipped, data=before.data)
            states[key] = state

    def _publish(self) -> None:
        """Merge the workers' states into one snapshot (condition held)."""
        views = {name: self._merged(name) for name in self._names}
        self._snapshot = Snapshot(self._merged(PRIMARY.name), MappingProxyType(views), PRIMARY.name)
        self._cond.notify_all()

    def _merged(self, name: str) -> MappingProxyType[TargetKey, Any]:
        merged: dict[TargetKey, Any] = {}
        for handle in self._handles:
            merged.update(handle.states.get(name, {}))
        return MappingProxyType(merged)

    def status(self) -> list[WorkerStatus]:
        """Each worker's process state, for the pool's own series."""
        return [WorkerStatus(h.index, h.up, h.restarts, h.targets) for h in self._handles]


def _reap(process: subprocess.Popen[bytes], timeout: float = STOP_SECONDS) -> None:
    """Wait for a worker to exit; kill it when it will not."""
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def log_settings() -> tuple[str, str]:
    """The main process's log level and format, for its workers' logs to match."""
    root = logging.getLogger()
    level = logging.getLevelName(root.level).lower()
    level = {"warning": "warn"}.get(level, level)
    json = any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
    return level, "json" if json else "logfmt"
