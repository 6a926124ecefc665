"""The protected_queries collector against the fake: counts, finished counters, calls per poll."""

from __future__ import annotations

import time
from collections.abc import Callable

from exporter.app import App
from exporter.demo.fake.analyses_store import QUERIES
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy, Reply, always
from tests.helpers import Seeder, config, poll_again, value, where_of

HOUR = 3600.0
ON = "collectors: {protected_queries: {enabled: true}}\n"


STATUSES = ("SUBMITTED", "STARTED", "CANCELLED", "CANCELLING", "FAILED", "SUCCESS", "TIMED_OUT")


def counts(exporter: App, where: dict[str, str]) -> dict[str, float | None]:
    return {s: value(exporter, "cleanrooms_protected_queries", **where, status=s) for s in STATUSES}


def finished(exporter: App, where: dict[str, str], status: str) -> float | None:
    name = "cleanrooms_protected_queries_finished_total"
    return value(exporter, name, **where, status=status)


def test_statuses_within_lookback_oldest_running_age_and_one_call_per_membership(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    now = time.time()
    busy = seeder.add(a, "us-east-1", "ACTIVE")
    quiet = seeder.add(a, "us-east-1", "ACTIVE")
    seeder.add(a, "us-east-1", "INVITED")
    key = (a, "us-east-1", busy.membership_id)
    plan = [
        ("STARTED", 3 * HOUR),  # the oldest running one
        ("SUBMITTED", 0.2 * HOUR),
        ("SUCCESS", 1 * HOUR),
        ("SUCCESS", 2 * HOUR),
        ("SUCCESS", 23 * HOUR),
        ("FAILED", 5 * HOUR),
        ("TIMED_OUT", 6 * HOUR),
        ("CANCELLED", 7 * HOUR),
        ("STARTED", 25 * HOUR),  # older than the 24h lookback: neither counted nor oldest
        ("SUCCESS", 30 * HOUR),
    ]
    for status, age in plan:
        fake.analyses.add_query(key, now - age, status)
    exporter = run_exporter(proxy.url, config(a, ON))
    where = where_of(a, busy)
    assert counts(exporter, where) == {
        "SUBMITTED": 1,
        "STARTED": 1,
        "CANCELLED": 1,
        "CANCELLING": 0,
        "FAILED": 1,
        "SUCCESS": 3,
        "TIMED_OUT": 1,
    }
    assert counts(exporter, where_of(a, quiet)) == dict.fromkeys(STATUSES, 0)
    # The first poll is the baseline: what had finished before is not news.
    for status in ("SUCCESS", "FAILED", "CANCELLED", "TIMED_OUT"):
        assert finished(exporter, where, status) == 0
    oldest = value(exporter, "cleanrooms_protected_query_oldest_running_age_seconds", **where)
    assert oldest is not None
    assert 3 * HOUR <= oldest < 3 * HOUR + 60
    quiet_age = "cleanrooms_protected_query_oldest_running_age_seconds"
    assert value(exporter, quiet_age, **where_of(a, quiet)) == 0
    calls = proxy.calls("ListProtectedQueries", a)
    assert len(calls) == 2  # one per ACTIVE membership: the first page reached past lookback
    assert {c.path.split("/")[2] for c in calls} == {busy.membership_id, quiet.membership_id}
    assert all(c.query["maxResults"] == ["100"] for c in calls)
    assert proxy.calls("GetProtectedQuery", a) == []


def test_lookback_stops_paging_and_max_pages_caps_it(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    now = time.time()
    busy = seeder.add(a, "us-east-1", "ACTIVE")
    key = (a, "us-east-1", busy.membership_id)
    for minute in range(120):  # the last 2 hours: 120 queries
        fake.analyses.add_query(key, now - 60 * minute - 30, "SUCCESS")
    for minute in range(400):  # 400 more, 3 to 10 hours old: 4 more pages if listed
        fake.analyses.add_query(key, now - 3 * HOUR - 60 * minute, "FAILED")
    exporter = run_exporter(
        proxy.url, config(a, "collectors: {protected_queries: {enabled: true, lookback: 2h}}\n")
    )
    where = where_of(a, busy)
    assert counts(exporter, where)["SUCCESS"] == 120
    assert counts(exporter, where)["FAILED"] == 0
    # 520 queries would be 6 pages; the first older than 2h is on page 2, so 2 calls.
    assert len(proxy.calls("ListProtectedQueries", a)) == 2

    b = new_account()
    other = seeder.add(b, "us-east-1", "ACTIVE")
    for minute in range(250):
        fake.analyses.add_query((b, "us-east-1", other.membership_id), now - 60 * minute, "SUCCESS")
    capped = run_exporter(proxy.url, "max_pages_per_poll: 2\n" + config(b, ON))
    assert counts(capped, where_of(b, other))["SUCCESS"] == 200  # the newest two pages
    assert len(proxy.calls("ListProtectedQueries", b)) == 2
    health = {"account_id": b, "region": "us-east-1", "collector": "protected_queries"}
    assert value(capped, "cleanrooms_collector_up", **health) == 1


def test_each_query_counted_once_when_it_finishes_even_across_a_failed_poll(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    now = time.time()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    key = (a, "us-east-1", collaboration.membership_id)
    running = fake.analyses.add_query(key, now - HOUR, "STARTED")
    fake.analyses.add_query(key, now - 2 * HOUR, "SUCCESS")
    exporter = run_exporter(proxy.url, config(a, ON))
    where = where_of(a, collaboration)
    assert finished(exporter, where, "FAILED") == 0
    assert finished(exporter, where, "SUCCESS") == 0

    fake.analyses.set_status(QUERIES, key, running, "FAILED")  # STARTED -> FAILED
    fake.analyses.add_query(key, time.time(), "SUCCESS")  # submitted and done between polls
    poll_again(exporter, where["account_id"], "protected_queries")
    assert finished(exporter, where, "FAILED") == 1
    assert finished(exporter, where, "SUCCESS") == 1
    poll_again(
        exporter, where["account_id"], "protected_queries"
    )  # nothing new: nothing counted again
    assert finished(exporter, where, "FAILED") == 1
    assert finished(exporter, where, "SUCCESS") == 1

    # A failed poll in between: the next good one counts what finished meanwhile, once.
    denied = Reply.aws_error(500, "InternalServerException", "injected")
    proxy.rules.append(always(denied, "ListProtectedQueries"))
    fake.analyses.add_query(key, time.time(), "TIMED_OUT")
    poll_again(exporter, where["account_id"], "protected_queries")
    health = {"account_id": a, "region": "us-east-1", "collector": "protected_queries"}
    assert value(exporter, "cleanrooms_collector_up", **health) == 0
    assert finished(exporter, where, "TIMED_OUT") == 0  # last good data still served
    proxy.rules.clear()
    poll_again(exporter, where["account_id"], "protected_queries")
    assert value(exporter, "cleanrooms_collector_up", **health) == 1
    assert finished(exporter, where, "TIMED_OUT") == 1
    assert finished(exporter, where, "FAILED") == 1
    assert finished(exporter, where, "SUCCESS") == 1


def test_access_denied_on_list_protected_queries_leaves_the_other_collectors_alone(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    key = (a, "us-east-1", collaboration.membership_id)
    fake.analyses.add_job(key, time.time() - 60, "SUCCESS")
    denied = Reply.aws_error(403, "AccessDeniedException", "not authorized")
    proxy.rules.append(always(denied, "ListProtectedQueries"))
    exporter = run_exporter(
        proxy.url,
        config(
            a,
            "collectors: {protected_queries: {enabled: true}, protected_jobs: {enabled: true}, "
            "privacy_budgets: {enabled: true}}\n",
        ),
    )
    target = {"account_id": a, "region": "us-east-1"}
    up = {
        name: value(exporter, "cleanrooms_collector_up", **target, collector=name)
        for name in ("collaborations", "protected_queries", "protected_jobs", "privacy_budgets")
    }
    assert up == {
        "collaborations": 1,
        "protected_queries": 0,
        "protected_jobs": 1,
        "privacy_budgets": 1,
    }
    assert value(exporter, "cleanrooms_target_up", **target) == 1
    where = where_of(a, collaboration)
    assert value(exporter, "cleanrooms_protected_jobs", **where, status="SUCCESS") == 1
    assert counts(exporter, where)["SUCCESS"] is None
    error = {"operation": "ListProtectedQueries", "error_code": "AccessDeniedException"}
    assert value(exporter, "cleanrooms_api_errors_total", **target, **error) == 1
    last_error = "cleanrooms_collector_last_error_info"
    assert value(exporter, last_error, **target, collector="protected_queries", **error) == 1


def test_a_membership_gone_since_the_collaborations_poll_is_skipped(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    from moto.cleanrooms.models import cleanrooms_backends

    a = new_account()
    kept = seeder.add(a, "us-east-1", "ACTIVE")
    gone = seeder.add(a, "us-east-1", "ACTIVE")
    fake.analyses.add_query((a, "us-east-1", kept.membership_id), time.time(), "STARTED")
    # The collaboration still lists its membership id; the membership itself is gone.
    del cleanrooms_backends[a]["us-east-1"].memberships[gone.membership_id]
    exporter = run_exporter(proxy.url, config(a, ON))
    health = {"account_id": a, "region": "us-east-1", "collector": "protected_queries"}
    assert value(exporter, "cleanrooms_collector_up", **health) == 1
    assert counts(exporter, where_of(a, kept))["STARTED"] == 1
    assert counts(exporter, where_of(a, gone))["STARTED"] is None
    assert len(proxy.calls("ListProtectedQueries", a)) == 2  # asked, answered 404, skipped
