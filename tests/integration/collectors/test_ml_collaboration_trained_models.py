"""ml_collaboration_trained_models against the fake: a payer's view of a partner's training.

The issue's cases end to end: the paying account sees another member's failed training
once (not again on later polls, not after a restart); every page is followed; an account
denied the collaboration-wide call has that collector down and the rest up; a region
without the ML endpoint is reported once and backed off; two configured accounts in one
collaboration aggregate right with ``max by``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from exporter.app import App
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy, Reply, Seen
from tests.helpers import Seeder, poll_again, role, value, where_of

OPERATION = "ListCollaborationTrainedModels"
FAILED = "cleanrooms_ml_collaboration_trained_models_failed_total"
COUNTS = "cleanrooms_ml_collaboration_trained_models"
OLDEST = "cleanrooms_ml_collaboration_trained_model_oldest_in_progress_age_seconds"
PARTNER = "444444444444"
PARTNER_MEMBERSHIP = "22222222-2222-4222-8222-222222222222"
ON = "collectors: {ml_collaboration_trained_models: {enabled: true}}"


def accounts(*ids: str, extra: str = ON) -> str:
    listed = ", ".join(f"{{role_arn: '{role(a)}', regions: [us-east-1]}}" for a in ids)
    return f"accounts: [{listed}]\n{extra}"


def test_a_payer_sees_a_partners_failed_training_once_and_not_after_a_restart(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    theirs = ("444444444444", "us-east-1", PARTNER_MEMBERSHIP)
    now = time.time()
    training = fake.ml.add_trained_model(
        theirs, collaboration.id, "churn", "CREATE_IN_PROGRESS", now - 3600, payer=a
    )
    for number in range(230):  # three pages, every member's
        fake.ml.add_trained_model(
            theirs, collaboration.id, f"m{number}", "ACTIVE", now - 86400 - number
        )
    exporter = run_exporter(proxy.url, accounts(a))
    where = where_of(a, collaboration)
    paid = {**where, "account_role": "payer"}
    assert value(exporter, FAILED, **paid) == 0
    group = {**paid, "creator_account_id": PARTNER, "payer_account_id": a}
    assert value(exporter, COUNTS, **group, status="CREATE_IN_PROGRESS") == 1
    neither = {**where, "account_role": "neither", "creator_account_id": PARTNER}
    assert value(exporter, COUNTS, **neither, payer_account_id=PARTNER, status="ACTIVE") == 230
    age = value(exporter, OLDEST, **group)
    assert age is not None
    assert 3600 <= age < 3700
    assert len(proxy.calls(OPERATION, a)) == 3  # ⌈231 / 100⌉ calls a poll
    fake.ml.set_status(training, "CREATE_FAILED", updated=time.time())
    poll_again(exporter, a, "ml_collaboration_trained_models")
    assert value(exporter, FAILED, **paid) == 1
    poll_again(exporter, a, "ml_collaboration_trained_models")
    assert value(exporter, FAILED, **paid) == 1  # still failed: not counted again
    assert value(exporter, COUNTS, **group, status="CREATE_FAILED") == 1
    exporter.poller.stop()
    restarted = run_exporter(proxy.url, accounts(a))
    assert value(restarted, FAILED, **paid) == 0  # the first poll after a start: a baseline
    poll_again(restarted, a, "ml_collaboration_trained_models")
    assert value(restarted, FAILED, **paid) == 0
    assert value(restarted, COUNTS, **group, status="CREATE_FAILED") == 1


def test_a_member_denied_the_collaboration_wide_call_has_that_collector_down_alone(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a, b = new_account(), new_account()
    seeder.add(a, "us-east-1", "ACTIVE")
    seeder.add(b, "us-east-1", "ACTIVE")

    def deny(seen: Seen) -> Reply | None:
        if seen.operation == OPERATION and seen.account_id == a:
            return Reply.aws_error(403, "AccessDeniedException", "not authorized")
        return None

    proxy.rules.append(deny)
    extra = (
        "collectors: {ml_collaboration_trained_models: {enabled: true}, "
        "ml_trained_models: {enabled: true}}"
    )
    exporter = run_exporter(proxy.url, accounts(a, b, extra=extra))
    for account, collector, up in (
        (a, "ml_collaboration_trained_models", 0),
        (a, "ml_trained_models", 1),
        (a, "collaborations", 1),
        (b, "ml_collaboration_trained_models", 1),
    ):
        here = {"account_id": account, "region": "us-east-1", "collector": collector}
        assert value(exporter, "cleanrooms_collector_up", **here) == up, (account, collector)
    error = {
        "account_id": a,
        "region": "us-east-1",
        "collector": "ml_collaboration_trained_models",
        "operation": OPERATION,
        "error_code": "AccessDeniedException",
    }
    assert value(exporter, "cleanrooms_collector_last_error_info", **error) == 1


def test_a_region_without_the_ml_endpoint_is_reported_once_and_backed_off(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    a = new_account()
    seeder.add(a, "us-east-1", "ACTIVE")

    def unreachable(seen: Seen) -> Reply | None:
        return Reply(action="drop") if seen.operation == OPERATION else None

    proxy.rules.append(unreachable)
    caplog.set_level(logging.WARNING, logger="exporter.polling.poller")
    exporter = run_exporter(proxy.url, accounts(a, extra=f"poll_interval: 200ms\n{ON}"))
    here = {"account_id": a, "region": "us-east-1", "collector": "ml_collaboration_trained_models"}
    assert value(exporter, "cleanrooms_collector_up", **here) == 0
    error = {**here, "operation": OPERATION, "error_code": "ConnectionError"}
    assert value(exporter, "cleanrooms_collector_last_error_info", **error) == 1
    time.sleep(3)
    polls = value(exporter, "cleanrooms_collector_polls_total", **here)
    assert polls is not None
    assert polls <= 6  # 15 at full rate; backing off (0.4, 0.8, 1.6 s) makes 4 or 5
    assert len(proxy.calls(OPERATION, a)) <= (polls + 1) * 3
    warned = [
        r
        for r in caplog.records
        if getattr(r, "collector", "") == "ml_collaboration_trained_models"
    ]
    assert len(warned) == 1  # once per streak, however many polls fail alike
    assert "cleanroomsml is not offered in us-east-1?" in warned[0].getMessage()
    collaborations = {**here, "collector": "collaborations"}
    assert value(exporter, "cleanrooms_collector_up", **collaborations) == 1


def test_two_configured_members_of_one_collaboration_aggregate_with_max(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a, b = new_account(), new_account()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    joined = seeder.share(collaboration, b, "us-east-1")
    theirs = ("444444444444", "us-east-1", PARTNER_MEMBERSHIP)
    now = time.time()
    fake.ml.add_trained_model(theirs, collaboration.id, "x", "CREATE_FAILED", now, payer=b)
    fake.ml.add_trained_model(theirs, collaboration.id, "y", "ACTIVE", now, payer=b)
    exporter = run_exporter(proxy.url, accounts(a, b))
    samples = [
        s
        for family in exporter.registry.collect()
        if family.name == COUNTS
        for s in family.samples
        if s.labels["collaboration_id"] == collaboration.id
    ]
    assert {s.labels["membership_id"] for s in samples} == {
        collaboration.membership_id,
        joined.membership_id,
    }
    by = ("collaboration_id", "creator_account_id", "payer_account_id", "status")
    summed: dict[tuple[str, ...], float] = {}
    maxed: dict[tuple[str, ...], float] = {}
    for s in samples:
        key = tuple(s.labels[k] for k in by)
        summed[key] = summed.get(key, 0) + s.value
        maxed[key] = max(maxed.get(key, 0), s.value)
    failed = (collaboration.id, PARTNER, b, "CREATE_FAILED")
    assert (summed[failed], maxed[failed]) == (2, 1)  # as docs/collectors.md says: max by
    payer = [s for s in samples if s.labels["account_role"] == "payer" and s.value]
    assert {(s.labels["account_id"], s.labels["status"], s.value) for s in payer} == {
        (b, "CREATE_FAILED", 1),
        (b, "ACTIVE", 1),
    }
