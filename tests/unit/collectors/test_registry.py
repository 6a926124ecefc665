"""The collector design: isolation, own schedules, reload, flags, config, and cached rendering."""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from exporter.collectors.change_requests import ChangeRequestsData, Pending
from exporter.collectors.collaborations import PollData
from exporter.collectors.members import MembersData
from exporter.collectors.memberships import Membership, MembershipsData
from exporter.config import ConfigError, parse_config
from exporter.config.collectors import CollectorSchedule
from exporter.core.model import CollectorState, PollError, Snapshot, Target
from exporter.metrics.exposition import ExpositionRenderer
from exporter.metrics.scrape import ScrapeSettings, SnapshotMetrics
from exporter.polling.failures import PollFailed
from exporter.polling.poller import CollectorJob, Poller
from tests.faultproxy import wait_for
from tests.helpers import primary_job
from tests.unit.metrics.test_collector import NOW, snapshot, stats


def check(*args: str, config: str = "") -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "exporter", "--config.check", *args]
    return subprocess.run(
        command, input=config, capture_output=True, text=True, timeout=60, check=False
    )


def test_config_errors_name_the_collector_and_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            "collectors:\n"
            "  budgets: {}\n"
            "  members: {enabled: maybe, every: 5m, interval: soon}\n"
            "  memberships: [on]\n"
            "  change_requests: {interval: 10m, stale_after: 5m}\n"
            "  collaborations: {enabled: false}\n",
            {},
        )
    problems = caught.value.problems
    assert any(p.startswith("line 2: collectors.budgets: unknown collector") for p in problems)
    assert "line 3: collectors.members.every: unknown key" in problems
    assert any(p.startswith("collectors.members.enabled: must be true or false") for p in problems)
    assert any(p.startswith("collectors.members.interval: invalid duration") for p in problems)
    assert any(p.startswith("collectors.memberships: must be a mapping") for p in problems)
    assert any(
        p.startswith("collectors.change_requests.stale_after: must be at least") for p in problems
    )
    assert (
        "collectors.collaborations.enabled: the collaborations collector is always on" in problems
    )


def test_intervals_default_to_poll_interval_and_staleness_to_three_polls() -> None:
    config = parse_config(
        "poll_interval: 2m\nstale_after: 10m\n"
        "collectors: {members: {enabled: true, interval: 15m}, change_requests: {enabled: true}}\n",
        {},
    )
    assert config.schedules() == (
        CollectorSchedule("collaborations", 120, 600),
        CollectorSchedule("memberships", 120, 600),
        CollectorSchedule("members", 900, 2700),
        CollectorSchedule("change_requests", 120, 600),
    )


# --- the poller: each collector on its own schedule ----------------------------------


class Calls:
    """Counts polls per collector; a collector named in ``failing`` raises."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.failing: set[str] = set()
        self.seen_collaborations: list[Any] = []
        self.previous: list[tuple[str, Any]] = []

    def job(self, name: str, interval: float, fan_out: bool = False) -> CollectorJob:
        def poll(target: Target, collaborations: PollData | None, previous: Any) -> str:
            with self.lock:
                self.counts[name] = self.counts.get(name, 0) + 1
                self.seen_collaborations.append(collaborations)
                self.previous.append((name, previous))
            if name in self.failing:
                raise PollFailed(PollError("ListMembers", "AccessDeniedException", "no"))
            return f"{name} data"

        return CollectorJob(
            name, poll, interval, "ListMembers", fans_out_from="collaborations" if fan_out else None
        )


EMPTY = PollData(collaborations=(), counts={}, oldest_invitation=None)


def test_each_collector_keeps_its_own_schedule_and_a_failing_one_delays_no_other() -> None:
    calls = Calls()
    calls.failing.add("members")
    gate = threading.Event()

    def collaborations(target: Target) -> PollData:
        gate.wait(5)
        with calls.lock:
            calls.counts["collaborations"] = calls.counts.get("collaborations", 0) + 1
        return EMPTY

    poller = Poller(
        [
            primary_job(collaborations, 0.05),
            calls.job("members", 0.05, fan_out=True),
            calls.job("memberships", 0.05),
            calls.job("slow", 3600),
        ],
        concurrency=4,
        jitter=0,
    )
    poller.set_targets([Target("000000000000", "us-east-1")])
    poller.start()
    try:
        wait_for(lambda: calls.counts.get("memberships", 0) >= 2, 5)
        assert "members" not in calls.counts  # fans out: waits for the first collaborations poll
        gate.set()
        wait_for(lambda: calls.counts.get("memberships", 0) >= 20, 10)
        key = ("000000000000", "us-east-1")
        members = poller.snapshot.collectors["members"][key]
        assert not members.up
        assert members.consecutive_failures >= 2
        assert calls.counts["members"] < calls.counts["memberships"] / 2  # backing off
        assert calls.counts["slow"] == 1
        assert poller.snapshot.collectors["memberships"][key].data == "memberships data"
        assert poller.snapshot.states[key].up
        assert EMPTY in calls.seen_collaborations  # fan-out gets the collaborations data
        # Each poll gets the collector's own last good data (none before the first success).
        assert next(p for n, p in calls.previous if n == "memberships") is None
        assert ("memberships", "memberships data") in calls.previous
        assert ("members", "members data") not in calls.previous  # it never succeeded
    finally:
        poller.stop()


def test_ready_waits_for_every_collector_and_reload_drops_one() -> None:
    calls = Calls()
    gate = threading.Event()
    slow = calls.job("members", 60)
    blocked = CollectorJob(
        "members", lambda t, c, p: gate.wait(5) and slow.poll(t, c, p), 60, "ListMembers"
    )
    poller = Poller([primary_job(lambda target: EMPTY, 60), blocked], concurrency=2)
    poller.set_targets([Target("000000000000", "us-east-1")])
    poller.start()
    try:
        assert not poller.wait_ready(0.5)
        poller.reconfigure([primary_job(lambda target: EMPTY, 60)], 2)
        assert poller.wait_ready(5)  # nothing left to wait for
        assert dict(poller.snapshot.collectors) == {}
    finally:
        gate.set()
        poller.stop()


# --- rendering: the cached renderer equals the library, collectors included ----------


def collector_snapshot() -> Snapshot:
    base = snapshot()
    key = ("111111111111", "us-east-1")
    target = base.states[key].target
    healthy = {
        "polled": True,
        "up": True,
        "polls": 2,
        "last_success": NOW - 30,
        "last_success_monotonic": NOW - 30,
        "last_duration": 0.5,
    }
    memberships = MembershipsData(
        (Membership("m1", "c1", 'name "c1"', "ACTIVE", True),),
        {"ACTIVE": 1, "COLLABORATION_DELETED": 0, "REMOVED": 0},
    )
    members = MembersData(
        {"c1": {"ACTIVE": 2, "INVITED": 0, "LEFT": 1, "REMOVED": 0}, "gone": {"ACTIVE": 9}}
    )
    requests = ChangeRequestsData({"c1": Pending(1, NOW - 7200), "gone": Pending(3, NOW - 1)})
    other = base.states[("222222222222", "eu-west-2")].target
    failed = CollectorState(
        other,
        polled=True,
        polls=1,
        failures=1,
        consecutive_failures=1,
        last_error=PollError("ListMembers", "AccessDeniedException", "no"),
    )
    return Snapshot(
        base.states,
        MappingProxyType(
            {
                "memberships": {key: CollectorState(target, memberships, **healthy)},
                "members": {key: CollectorState(target, members, **healthy), other.key: failed},
                "change_requests": {key: CollectorState(target, requests, **healthy)},
            }
        ),
    )


SETTINGS = ScrapeSettings(
    900.0,
    True,
    ("444444444444",),
    (
        CollectorSchedule("memberships", 300, 900),
        CollectorSchedule("members", 900, 2700),
        CollectorSchedule("change_requests", 300, 900),
    ),
)


class World:
    def __init__(self) -> None:
        self.snapshot = collector_snapshot()
        self.settings = SETTINGS
        self.now = NOW
        self.collector = SnapshotMetrics(
            lambda: self.snapshot,
            stats(),
            lambda: self.settings,
            lambda: self.now,
            lambda: self.now,
        )
        self.registry = CollectorRegistry()
        self.registry.register(self.collector)
        self.renderer = ExpositionRenderer(self.collector)

    def same(self, accept: str = "text/plain") -> bytes:
        body, _ = self.renderer.render(accept)
        assert body == bytes(choose_encoder(accept)[0](self.registry))
        return body

    def sample(self, name: str, **labels: str) -> float | None:
        target = {"account_id": "111111111111", "region": "us-east-1"}
        return self.registry.get_sample_value(name, {**target, **labels})


@pytest.mark.parametrize("accept", ["text/plain", "application/openmetrics-text; version=1.0.0"])
def test_renderer_equals_the_library_with_collectors_through_changes(accept: str) -> None:
    world = World()
    body = world.same(accept)
    assert b'collaboration_id="gone"' not in body  # not an ACTIVE collaboration any more
    assert (
        world.sample("cleanrooms_collaboration_members", collaboration_id="c1", status="LEFT") == 1
    )
    age = "cleanrooms_change_request_oldest_pending_age_seconds"
    assert world.sample(age, collaboration_id="c1") == 7200
    world.now += 60
    world.same(accept)
    assert world.sample(age, collaboration_id="c1") == 7260  # grows at scrape time
    world.now = NOW + 901  # memberships (stale_after 900) go stale; members (2700) do not
    world.same(accept)
    assert world.sample("cleanrooms_memberships", status="ACTIVE") is None
    assert world.sample("cleanrooms_collector_stale", collector="memberships") == 1
    assert (
        world.sample("cleanrooms_collaboration_members", collaboration_id="c1", status="ACTIVE")
        == 2
    )
    world.settings = replace(SETTINGS, collectors=SETTINGS.collectors[:1])  # a reload
    body = world.same(accept)
    assert b"cleanrooms_collaboration_members{" not in body
    assert b'collector="members"' not in body


def test_collector_health_and_zeroed_operations_for_enabled_collectors() -> None:
    world = World()
    world.same()
    assert world.sample("cleanrooms_collector_up", collector="members") == 1
    other = {"account_id": "222222222222", "region": "eu-west-2", "collector": "members"}
    registry = world.registry
    assert registry.get_sample_value("cleanrooms_collector_up", other) == 0
    assert registry.get_sample_value("cleanrooms_collector_poll_failures_total", other) == 1
    error = {**other, "operation": "ListMembers", "error_code": "AccessDeniedException"}
    assert registry.get_sample_value("cleanrooms_collector_last_error_info", error) == 1
    for operation in ("ListMemberships", "ListMembers", "ListCollaborationChangeRequests"):
        labels = {"operation": operation}
        assert world.sample("cleanrooms_api_requests_total", **labels) == 0
