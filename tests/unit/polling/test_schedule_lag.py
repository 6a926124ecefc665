"""How late scheduled polls start: measured against the schedule, per collector, merged."""

from __future__ import annotations

import threading
from types import MappingProxyType

import pytest

from exporter.collectors.collaborations import build_poll_data
from exporter.core.histogram import Histogram
from exporter.core.model import Target
from exporter.polling.poller import Poller
from exporter.polling.pool import WorkerPool
from exporter.polling.schedule import LAG_BUCKETS, ScheduleLag
from exporter.polling.worker import Diff
from tests.faultproxy import wait_for
from tests.helpers import primary_job

EMPTY = build_poll_data([], 1, None)
KEY = ("000000000001", "us-east-1")


class Clock:
    """A monotonic clock the test moves; the poller's scheduler reads it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counted(poller: Poller) -> int:
    found = poller.lags().get("collaborations")
    return found.count if found is not None else 0


@pytest.fixture
def running() -> tuple[Poller, Clock, list[float]]:
    clock = Clock()
    starts: list[float] = []

    def poll(target: Target) -> object:
        starts.append(clock.now)
        return EMPTY

    poller = Poller([primary_job(poll, 100.0)], 1, monotonic=clock, jitter=0.0)
    poller.set_targets([Target(*KEY)])
    poller.start()
    yield poller, clock, starts
    poller.stop(timeout=1)


def step(poller: Poller, clock: Clock, starts: list[float], to: float) -> None:
    """Move the clock to ``to`` and wait for the poll that is due then."""
    before = len(starts)
    clock.now = to
    poller._wake.set()  # the scheduler sleeps on real time; the clock moved under it
    wait_for(lambda: len(starts) > before and poller.snapshot.states[KEY].polls > before)


def test_a_late_poll_counts_its_lag_as_a_fraction_of_the_interval(
    running: tuple[Poller, Clock, list[float]],
) -> None:
    poller, clock, starts = running
    wait_for(lambda: poller.snapshot.states[KEY].polls == 1)
    assert counted(poller) == 0  # the first poll was due at once: not late for anything
    step(poller, clock, starts, 1000.0 + 100.0 + 30.0)  # due at 1100, started at 1130
    lag = poller.lags()["collaborations"]
    assert lag.count == 1
    assert lag.total == pytest.approx(0.3)
    assert dict(lag.cumulative())["0.25"] == 0
    assert dict(lag.cumulative())["0.5"] == 1
    step(poller, clock, starts, 1130.0 + 100.0)  # exactly on time
    assert poller.lags()["collaborations"].count == 2
    assert dict(poller.lags()["collaborations"].cumulative())["0.01"] == 1


def test_polls_made_due_at_once_are_not_late(running: tuple[Poller, Clock, list[float]]) -> None:
    poller, clock, _ = running
    wait_for(lambda: poller.snapshot.states[KEY].polls == 1)
    clock.now += 500.0  # overdue by four intervals, but a benchmark makes it due now
    poller.poll_all_now()
    wait_for(lambda: poller.snapshot.states[KEY].polls == 2)
    assert counted(poller) == 0


def test_a_poll_that_waits_for_a_busy_thread_is_late() -> None:
    """One thread, two targets: the second's scheduled poll waits for the first's."""
    clock = Clock()
    release, busy = threading.Event(), threading.Event()
    second = Target("000000000002", "us-east-1")
    polled: list[str] = []

    def poll(target: Target) -> object:
        polled.append(target.account_id)
        if target.account_id == KEY[0] and len(polled) > 2:
            busy.set()
            release.wait(5)
        return EMPTY

    poller = Poller([primary_job(poll, 100.0)], 1, monotonic=clock, jitter=0.0)
    poller.set_targets([Target(*KEY), second])
    poller.start()
    try:
        assert poller.wait_ready(5)
        clock.now = 1100.0
        poller._wake.set()
        busy.wait(5)  # the first target holds the only thread
        clock.now = 1180.0  # the second was due at 1100
        release.set()
        wait_for(lambda: counted(poller) == 2)
        lag = poller.lags()["collaborations"]
        assert dict(lag.cumulative())["0.5"] == 1  # the first: on time; the second: 0.8 late
        assert dict(lag.cumulative())["1.0"] == 2
    finally:
        release.set()
        poller.stop(timeout=1)


def test_a_shorter_interval_and_a_removed_collector_are_taken_into_account() -> None:
    lag = ScheduleLag()
    job = ("protected_queries", KEY)
    lag.plan(job, 200.0)
    lag.shorten("protected_queries", 150.0)
    lag.started(job, 160.0, 100.0)  # due at 150 after the reload, not 200
    assert lag.view()["protected_queries"].total == pytest.approx(0.1)
    lag.started(job, 500.0, 100.0)  # not planned again: nothing to measure
    assert lag.view()["protected_queries"].count == 1
    lag.keep([], ["collaborations"])
    assert "protected_queries" not in lag.view()


def test_a_restarted_worker_carries_on_and_the_pool_sums_its_workers() -> None:
    one = Histogram.empty(LAG_BUCKETS).add(0.05)
    two = Histogram.empty(LAG_BUCKETS).add(0.5).add(0.0)
    poller = Poller([primary_job(lambda t: EMPTY, 100.0)], 1)
    poller.restore({}, {"collaborations": two})
    poller.set_targets([Target(*KEY)])
    assert poller.lags()["collaborations"] == two  # kept: the collector is configured
    pool = WorkerPool(2)
    pool._handles[0].lags = {"collaborations": one}
    pool._handles[1].lags = {"collaborations": two, "members": one}
    merged = pool.lags()
    assert merged["collaborations"].count == 3
    assert merged["collaborations"].total == pytest.approx(0.55)
    assert merged["members"] == one


def test_a_worker_ships_lags_only_when_they_moved() -> None:
    diff = Diff()
    lags = MappingProxyType({"collaborations": Histogram.empty(LAG_BUCKETS).add(0.2)})
    assert diff.lags(lags) == lags
    assert diff.lags(MappingProxyType(dict(lags))) is None
    diff.reset()
    assert diff.lags(lags) == lags
