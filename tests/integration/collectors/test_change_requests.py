"""The change_requests collector against the fake: pending counts, oldest age, calls per poll."""

from __future__ import annotations

import time
from collections.abc import Callable

from exporter.app import App
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy
from tests.helpers import Seeder, config, value

HOUR = 3600.0


def test_pending_requests_and_oldest_age_per_active_collaboration(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    now = time.time()
    waiting = seeder.add(a, "us-east-1", "ACTIVE")
    quiet = seeder.add(a, "us-east-1", "ACTIVE")
    invited = seeder.add(a, "us-east-1", "INVITED")
    fake.change_requests.add((a, "us-east-1", waiting.id), now - 30 * HOUR)
    fake.change_requests.add((a, "us-east-1", waiting.id), now - HOUR)
    done = fake.change_requests.add((a, "us-east-1", waiting.id), now - 50 * HOUR)
    fake.change_requests.set_status((a, "us-east-1", waiting.id), done, "APPROVED", now - 49 * HOUR)
    fake.change_requests.add((a, "us-east-1", invited.id), now - HOUR)
    exporter = run_exporter(
        proxy.url,
        config(a, "collectors: {change_requests: {enabled: true}}\n"),
    )
    target = {"account_id": a, "region": "us-east-1"}
    pending = "cleanrooms_change_requests_pending"
    age = "cleanrooms_change_request_oldest_pending_age_seconds"
    assert value(exporter, pending, **target, collaboration_id=waiting.id) == 2
    assert value(exporter, pending, **target, collaboration_id=quiet.id) == 0
    assert value(exporter, pending, **target, collaboration_id=invited.id) is None
    oldest = value(exporter, age, **target, collaboration_id=waiting.id)
    assert oldest is not None
    assert 30 * HOUR <= oldest < 30 * HOUR + 60
    assert value(exporter, age, **target, collaboration_id=quiet.id) == 0
    calls = proxy.calls("ListCollaborationChangeRequests", a)
    assert len(calls) == 2  # one per ACTIVE collaboration: the formula's minimum
    assert all(c.query["status"] == ["PENDING"] for c in calls)


def test_pages_of_pending_requests_cost_one_call_per_hundred(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    busy = seeder.add(a, "us-east-1", "ACTIVE")
    for index in range(230):
        fake.change_requests.add((a, "us-east-1", busy.id), time.time() - index)
    exporter = run_exporter(
        proxy.url,
        config(a, "collectors: {change_requests: {enabled: true}}\n"),
    )
    labels = {"account_id": a, "region": "us-east-1", "collaboration_id": busy.id}
    assert value(exporter, "cleanrooms_change_requests_pending", **labels) == 230
    assert len(proxy.calls("ListCollaborationChangeRequests", a)) == 3
