"""The ml_trained_models collector against the fake: values, failures once, the ML endpoint."""

from __future__ import annotations

import time
from collections.abc import Callable

from exporter.app import App
from exporter.collectors import ml_trained_models
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy, Reply, Seen
from tests.helpers import Seeder, config, poll_again, value, where_of

DAY = 86400.0


def test_trained_models_by_status_oldest_in_progress_and_each_failure_counted_once(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    key = (a, "us-east-1", collaboration.membership_id)
    now = time.time()
    fake.ml.add_trained_model(key, collaboration.id, "old-failure", "CREATE_FAILED", now - DAY)
    training = fake.ml.add_trained_model(
        key, collaboration.id, "t", "CREATE_IN_PROGRESS", now - 7200
    )
    fake.ml.add_trained_model(key, collaboration.id, "p", "CREATE_PENDING", now - 600)
    for number in range(250):  # three pages
        fake.ml.add_trained_model(key, collaboration.id, f"m{number}", "ACTIVE", now - DAY - number)
    collectors = "collectors: {ml_trained_models: {enabled: true}}"
    exporter = run_exporter(proxy.url, config(a, collectors))
    where = where_of(a, collaboration)
    counts = {
        s: value(exporter, "cleanrooms_ml_trained_models", **where, status=s)
        for s in ml_trained_models.KIND.rules.statuses
    }
    assert counts == dict.fromkeys(ml_trained_models.KIND.rules.statuses, 0) | {
        "CREATE_FAILED": 1,
        "CREATE_IN_PROGRESS": 1,
        "CREATE_PENDING": 1,
        "ACTIVE": 250,
    }
    age = value(exporter, "cleanrooms_ml_trained_model_oldest_in_progress_age_seconds", **where)
    assert age is not None
    assert 7200 <= age < 7300
    failed = "cleanrooms_ml_trained_models_failed_total"
    assert value(exporter, failed, **where) == 0  # the baseline: already failed, not counted
    assert len(proxy.calls("ListTrainedModels", a)) == 3  # ⌈253 / 100⌉ calls a poll
    fake.ml.set_status(training, "CREATE_FAILED", updated=time.time())  # fails between polls
    poll_again(exporter, a, "ml_trained_models")
    assert value(exporter, failed, **where) == 1
    poll_again(exporter, a, "ml_trained_models")
    assert value(exporter, failed, **where) == 1  # still failed: not counted again
    assert len(proxy.calls("ListTrainedModels", a)) == 9


def test_access_denied_on_the_ml_api_leaves_every_other_collector_up(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    seeder.add(a, "us-east-1", "ACTIVE")

    def deny(seen: Seen) -> Reply | None:
        if seen.operation in ("ListTrainedModels", "ListAudienceModels"):
            return Reply.aws_error(403, "AccessDeniedException", "not authorized for cleanrooms-ml")
        return None

    proxy.rules.append(deny)
    collectors = (
        "collectors: {ml_trained_models: {enabled: true}, ml_audiences: {enabled: true}, "
        "intermediate_tables: {enabled: true}}"
    )
    exporter = run_exporter(proxy.url, config(a, collectors))
    here = {"account_id": a, "region": "us-east-1"}
    for collector, up in (
        ("ml_trained_models", 0),
        ("ml_audiences", 0),
        ("intermediate_tables", 1),
        ("memberships", 1),
        ("collaborations", 1),
    ):
        assert value(exporter, "cleanrooms_collector_up", **here, collector=collector) == up
    error = {**here, "collector": "ml_trained_models", "operation": "ListTrainedModels"}
    info = "cleanrooms_collector_last_error_info"
    assert value(exporter, info, **error, error_code="AccessDeniedException") == 1


def test_a_region_without_the_ml_endpoint_is_not_hammered(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    new_account: Callable[[], str],
) -> None:
    a = new_account()

    def unreachable(seen: Seen) -> Reply | None:
        return Reply(action="drop") if seen.operation == "ListAudienceModels" else None

    proxy.rules.append(unreachable)
    collectors = "poll_interval: 200ms\ncollectors: {ml_audiences: {enabled: true}}"
    exporter = run_exporter(proxy.url, config(a, collectors))
    here = {"account_id": a, "region": "us-east-1", "collector": "ml_audiences"}
    assert value(exporter, "cleanrooms_collector_up", **here) == 0
    error = {**here, "operation": "ListAudienceModels", "error_code": "ConnectionError"}
    assert value(exporter, "cleanrooms_collector_last_error_info", **error) == 1
    time.sleep(3)
    # Every 200 ms at full rate would be 15 polls; backing off (0.4, 0.8, 1.6 s) makes 4 or 5.
    calls = len(proxy.calls("ListAudienceModels", a))
    polls = value(exporter, "cleanrooms_collector_polls_total", **here)
    assert polls is not None
    assert polls <= 6
    # aws.max_attempts (3) each, finished polls and the one that may be in flight.
    assert calls <= (polls + 1) * 3
    assert (
        value(exporter, "cleanrooms_collector_up", **{**here, "collector": "collaborations"}) == 1
    )
