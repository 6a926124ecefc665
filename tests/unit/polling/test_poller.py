"""Poller behaviour with an injected poll function: concurrency, overlap, failures, readiness."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from exporter.collectors.collaborations import PollData, build_poll_data
from exporter.core.model import PollError, Target
from exporter.polling.failures import PollFailed
from exporter.polling.poller import CollectorJob, Poller
from tests.faultproxy import wait_for
from tests.helpers import primary_job


def targets(n: int) -> list[Target]:
    return [Target(f"{i:012d}", "us-east-1") for i in range(n)]


EMPTY = build_poll_data([], 1, None)


class Recorder:
    """A fake poll function that records concurrency and can block or fail."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.running: Counter[str] = Counter()
        self.max_total = 0
        self.max_per_target = 0
        self.calls: Counter[str] = Counter()
        self.fail: set[str] = set()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, target: Target) -> PollData:
        with self.lock:
            self.running[target.account_id] += 1
            self.calls[target.account_id] += 1
            self.max_total = max(self.max_total, sum(self.running.values()))
            self.max_per_target = max(self.max_per_target, self.running[target.account_id])
        try:
            self.release.wait(10)
            time.sleep(self.delay)
            if target.account_id in self.fail:
                raise PollFailed(PollError("ListCollaborations", "AccessDeniedException", "no"))
            return EMPTY
        finally:
            with self.lock:
                self.running[target.account_id] -= 1


@pytest.fixture
def started() -> list[Poller]:
    return []


@pytest.fixture(autouse=True)
def stop_all(started: list[Poller]):
    yield
    for poller in started:
        poller.stop(timeout=1)


def start(poller: Poller, ts: list[Target], started: list[Poller]) -> Poller:
    poller.set_targets(ts)
    poller.start()
    started.append(poller)
    return poller


def test_concurrency_is_bounded(started: list[Poller]) -> None:
    recorder = Recorder(delay=0.05)
    poller = start(Poller([primary_job(recorder, 60)], concurrency=3), targets(12), started)
    assert poller.wait_ready(10)
    assert recorder.max_total == 3
    assert sum(recorder.calls.values()) == 12


def test_slow_poll_never_overlaps_itself(started: list[Poller]) -> None:
    recorder = Recorder(delay=0.05)
    # The interval is far shorter than one poll: polls must run back to back, never at once.
    start(Poller([primary_job(recorder, 0.001)], concurrency=4), targets(1), started)
    wait_for(lambda: recorder.calls["000000000000"] >= 5)
    assert recorder.max_per_target == 1


def test_ready_only_after_every_target_polled(started: list[Poller]) -> None:
    recorder = Recorder()
    recorder.release.clear()
    poller = start(Poller([primary_job(recorder, 60)], concurrency=2), targets(3), started)
    assert not poller.wait_ready(0.3)
    assert not poller.snapshot.ready
    recorder.release.set()
    assert poller.wait_ready(5)


def test_failure_keeps_last_good_data_and_counts(started: list[Poller]) -> None:
    recorder = Recorder()
    poller = start(
        Poller([primary_job(recorder, 0.05)], concurrency=1, jitter=0), targets(1), started
    )
    key = ("000000000000", "us-east-1")
    wait_for(lambda: poller.snapshot.states[key].polls >= 1)
    recorder.fail.add("000000000000")
    wait_for(lambda: poller.snapshot.states[key].consecutive_failures >= 2)
    state = poller.snapshot.states[key]
    assert state.data is EMPTY
    assert not state.up
    assert state.last_error == PollError("ListCollaborations", "AccessDeniedException", "no")
    assert state.failures == state.consecutive_failures
    assert state.polls > state.failures  # the first, good poll
    recorder.fail.clear()
    wait_for(lambda: poller.snapshot.states[key].up)
    assert poller.snapshot.states[key].last_error is None


def test_unexpected_exception_marks_target_down_and_worker_survives(started: list[Poller]) -> None:
    calls = Counter[str]()

    def flaky(target: Target) -> PollData:
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyError("surprise")
        return EMPTY

    poller = start(Poller([primary_job(flaky, 0.05)], concurrency=1, jitter=0), targets(1), started)
    key = ("000000000000", "us-east-1")
    wait_for(lambda: poller.snapshot.states[key].polled)
    first = poller.snapshot.states[key]
    if first.up:  # the second poll may already have landed
        assert first.failures == 1
    else:
        assert first.last_error is not None
        assert first.last_error.code == "KeyError"
    wait_for(lambda: poller.snapshot.states[key].up)


def test_set_targets_adds_and_removes(started: list[Poller]) -> None:
    recorder = Recorder()
    poller = start(Poller([primary_job(recorder, 60)], concurrency=2), targets(2), started)
    assert poller.wait_ready(5)
    kept = poller.snapshot.states[("000000000001", "us-east-1")]
    new = Target("999999999999", "eu-west-2")
    poller.set_targets([kept.target, new])
    assert set(poller.snapshot.states) == {kept.target.key, new.key}
    assert poller.snapshot.states[kept.target.key].polls == kept.polls  # not reset
    wait_for(lambda: poller.snapshot.states[new.key].polled)


def test_stop_returns_promptly_with_a_hung_poll(started: list[Poller]) -> None:
    recorder = Recorder()
    recorder.release.clear()  # every poll hangs
    poller = Poller([primary_job(recorder, 60)], concurrency=2)
    poller.set_targets(targets(2))
    poller.start()
    wait_for(lambda: sum(recorder.running.values()) == 2)
    began = time.monotonic()
    poller.stop(timeout=0.5)
    assert time.monotonic() - began < 1.5
    recorder.release.set()


def test_polls_repeat_on_the_interval(started: list[Poller]) -> None:
    recorder = Recorder()
    start(Poller([primary_job(recorder, 0.2)], concurrency=1, jitter=0), targets(1), started)
    time.sleep(1.05)
    assert 3 <= recorder.calls["000000000000"] <= 7


def test_wall_clock_jumps_change_neither_schedule_nor_freshness(started: list[Poller]) -> None:
    from prometheus_client import CollectorRegistry

    from exporter.core.stats import ApiStats
    from exporter.metrics.scrape import ScrapeSettings, SnapshotMetrics
    from tests.unit.metrics.test_collector import summary

    offset = [0.0]

    def wall() -> float:
        return time.time() + offset[0]

    invited = build_poll_data([summary("c", "INVITED", time.time() - 60)], 1, None)
    calls = Counter[str]()

    def poll(target: Target) -> PollData:
        calls["n"] += 1
        return invited

    poller = start(
        Poller([primary_job(poll, 0.2)], concurrency=1, jitter=0, wall_clock=wall),
        targets(1),
        started,
    )
    registry = CollectorRegistry()
    settings = ScrapeSettings(
        stale_after=1.0, per_collaboration_metrics=False, trusted_creator_accounts=()
    )
    registry.register(SnapshotMetrics(lambda: poller.snapshot, ApiStats(), lambda: settings, wall))
    labels = {"account_id": "000000000000", "region": "us-east-1"}
    assert poller.wait_ready(5)
    for jump in (86400.0, -86400.0):  # a day forward, then a day back
        offset[0] = jump
        before = calls["n"]
        time.sleep(0.5)
        assert 2 <= calls["n"] - before <= 4  # still every 0.2 s
        assert registry.get_sample_value("cleanrooms_target_stale", labels) == 0
        age = registry.get_sample_value("cleanrooms_pending_invitations_oldest_age_seconds", labels)
        assert age is not None
        assert age >= 0  # clamped when the clock runs behind AWS's timestamps
    assert (
        registry.get_sample_value("cleanrooms_pending_invitations_oldest_age_seconds", labels) == 0
    )


@pytest.mark.parametrize(
    ("interval", "failures", "delay"),
    [
        (300, 0, 300),
        (300, 1, 300),
        (300, 2, 600),
        (300, 3, 1200),
        (300, 4, 1800),
        (300, 9, 1800),
        (30, 4, 240),
        (30, 10, 240),
        (3600, 5, 3600),
    ],
)
def test_backoff_doubles_and_is_capped(interval: float, failures: int, delay: float) -> None:
    from exporter.polling.failures import backoff_delay

    assert backoff_delay(interval, failures) == delay


def test_tallies_of_removed_targets_stay_gone() -> None:
    from exporter.core.stats import ApiStats

    stats = ApiStats()
    stats.request(("111111111111", "us-east-1", "ListCollaborations"))
    stats.retain([("222222222222", "us-east-1")])
    # A poll of the removed target that was still in flight finishes afterwards.
    stats.request(("111111111111", "us-east-1", "ListCollaborations"))
    stats.outcome(("111111111111", "us-east-1", "ListCollaborations"), 0.1, "X", True)
    stats.request(("222222222222", "us-east-1", "ListCollaborations"))
    assert set(stats.view().targets) == {("222222222222", "us-east-1")}


def test_finished_polls_do_not_wake_the_scheduler_when_nothing_is_due(started) -> None:
    """The scheduler looks at every job when it wakes; once per finished poll was quadratic."""
    looks = Counter[str]()

    def clock() -> float:
        looks[threading.current_thread().name] += 1
        return time.monotonic()

    poller = Poller([primary_job(Recorder(delay=0.004), 3600)], 1, monotonic=clock)
    start(poller, targets(60), started)
    assert poller.wait_ready(10)
    scheduler_looks = looks["poll-scheduler"]
    # Sixty polls one after the other, next due in an hour: the scheduler wakes on its
    # own timer (once a second at most) and never for a finished poll.
    assert scheduler_looks <= 6, scheduler_looks


def test_a_first_collaborations_poll_starts_waiting_fan_out_polls_at_once(started) -> None:
    fanned: dict[str, float] = {}

    def fan_out(target: Target, collaborations: object, previous: object) -> object:
        fanned[target.account_id] = time.monotonic()
        return collaborations

    members = CollectorJob("members", fan_out, 3600, "ListMembers", fans_out_from="collaborations")
    poller = Poller([primary_job(Recorder(delay=0.01), 3600), members], 2)
    began = time.monotonic()
    start(poller, targets(4), started)
    assert poller.wait_ready(10)
    # Not on the scheduler's once-a-second timer: woken by the collaborations poll.
    assert max(fanned.values()) - began < 0.8


def test_a_poll_that_finds_nothing_new_keeps_the_data_object(started: list[Poller]) -> None:
    # Equal data comes back as the previous object: the renderer's cache and the poll
    # workers' messages tell "unchanged" by identity. New data replaces it.
    answers = iter([build_poll_data([], 1, None), build_poll_data([], 1, None)])
    changed = build_poll_data([], 2, None)
    poller = start(
        Poller([primary_job(lambda _: next(answers, changed), 60)], concurrency=1),
        targets(1),
        started,
    )
    key = ("000000000000", "us-east-1")
    seen = []
    for polls in (1, 2, 3):
        if polls > 1:
            poller.poll_all_now()
        wait_for(lambda n=polls: poller.snapshot.states[key].polls >= n)
        seen.append(poller.snapshot.states[key].data)
    assert seen[1] is seen[0]  # equal, and not the same object when the poll returned it
    assert seen[2] is changed
