"""Analysis details: one Get per analysis first seen finished, its cost, duration and error."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from exporter.app import App
from exporter.collectors.details import DURATION_BUCKETS
from exporter.demo.fake.analyses_store import JOBS, QUERIES
from exporter.demo.fake.service import FakeCleanRooms
from exporter.web.spend import spending
from tests.faultproxy import FaultProxy, Reply, Seen
from tests.helpers import Seeder, config, poll_again, value, where_of

HOUR = 3600.0


def billed(exporter: App, where: dict[str, str], status: str, kind: str = "query") -> float:
    """The counter, in CRPU-seconds: AWS's CRPU-hours times 3600."""
    name = f"cleanrooms_protected_{kind}_billed_crpu_seconds_total"
    return value(exporter, name, **where, status=status) or 0.0


def test_cost_and_durations_equal_the_seeded_statistics_one_get_each_none_for_the_baseline(
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
    old = fake.analyses.add_query(key, now - HOUR, "STARTED")
    fake.analyses.set_status(QUERIES, key, old, "SUCCESS", units=9.0, duration_ms=50_000)
    running = [fake.analyses.add_query(key, now - 60 + i, "STARTED") for i in range(4)]
    exporter = run_exporter(
        proxy.url, config(a, "collectors: {protected_queries: {enabled: true}}")
    )
    where = where_of(a, collaboration)
    # The baseline poll: the query finished before it is never fetched nor billed.
    assert fake.analyses.gets[old] == 0
    assert billed(exporter, where, "SUCCESS") == 0
    outcomes = [
        (running[0], "SUCCESS", 0.5, 42_000, None),
        (running[1], "SUCCESS", 1.25, 700_000, None),
        (running[2], "FAILED", 0.125, 9_000, "InsufficientCapacity"),
        (running[3], "TIMED_OUT", 2.0, 7_300_000, None),
    ]
    for query, status, units, millis, error in outcomes:
        retry = {"error": error, "retryable": True} if error else {}
        fake.analyses.set_status(
            QUERIES, key, query, status, units=units, duration_ms=millis, **retry
        )
    poll_again(exporter, a, "protected_queries")
    assert billed(exporter, where, "SUCCESS") == 1.75 * HOUR
    assert billed(exporter, where, "FAILED") == 0.125 * HOUR
    assert billed(exporter, where, "TIMED_OUT") == 2.0 * HOUR
    # The status page keeps AWS's unit: the same cost in CRPU-hours.
    (spend,) = (s for s in spending(exporter.snapshot()) if s.collaboration_id == collaboration.id)
    assert spend.crpu_hours == 1.75 + 0.125 + 2.0
    name = "cleanrooms_protected_query_errors_total"
    labels = {**where, "error_code": "InsufficientCapacity", "retryable": "true"}
    assert value(exporter, name, **labels) == 1
    target = {"account_id": a, "region": "us-east-1"}
    histogram = "cleanrooms_protected_query_duration_seconds"
    assert value(exporter, f"{histogram}_sum", **target, status="SUCCESS") == 742.0
    assert value(exporter, f"{histogram}_count", **target, status="SUCCESS") == 2
    for bound, expected in ((30.0, 0), (60.0, 1), (600.0, 1), (1200.0, 2)):
        le = repr(bound)
        assert value(exporter, f"{histogram}_bucket", **target, status="SUCCESS", le=le) == expected
    assert value(exporter, f"{histogram}_bucket", **target, status="TIMED_OUT", le="+Inf") == 1
    assert value(exporter, f"{histogram}_bucket", **target, status="TIMED_OUT", le="7200.0") == 0
    poll_again(
        exporter, a, "protected_queries"
    )  # nothing new: nothing fetched twice, nothing billed twice
    assert [fake.analyses.gets[q] for q, *_ in outcomes] == [1, 1, 1, 1]
    assert billed(exporter, where, "SUCCESS") == 1.75 * HOUR
    assert len(proxy.calls("GetProtectedQuery", a)) == 4
    assert DURATION_BUCKETS[0] == 10.0


def test_a_burst_drains_at_details_per_poll_with_the_backlog_falling_to_zero(
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
    burst = [fake.analyses.add_query(key, now - 600 + i, "STARTED") for i in range(500)]
    collectors = "collectors: {protected_queries: {enabled: true, details_per_poll: 50}}"
    exporter = run_exporter(proxy.url, config(a, collectors))
    where = where_of(a, collaboration)
    for query in burst:
        fake.analyses.set_status(QUERIES, key, query, "SUCCESS", units=0.01, duration_ms=20_000)
    backlog = []
    for _ in range(10):
        gets = len(proxy.calls("GetProtectedQuery", a))
        lists = len(proxy.calls("ListProtectedQueries", a))
        poll_again(exporter, a, "protected_queries")
        # The documented cost of a poll: ⌈500 within lookback / 100⌉ list pages (at most
        # ⌊500 / 100⌋ + 1, should the API end on an empty page), plus
        # min(backlog, details_per_poll) Gets.
        assert len(proxy.calls("ListProtectedQueries", a)) - lists == 5
        assert len(proxy.calls("GetProtectedQuery", a)) - gets == 50  # never more per poll
        backlog.append(
            value(
                exporter,
                "cleanrooms_analysis_details_backlog",
                **where,
                collector="protected_queries",
            )
        )
    assert backlog == [450 - 50 * i for i in range(10)]
    assert backlog[-1] == 0
    assert billed(exporter, where, "SUCCESS") == pytest.approx(5.0 * HOUR)
    assert all(fake.analyses.gets[q] == 1 for q in burst)


def test_thirty_error_codes_become_twenty_and_other(
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
    queries = [fake.analyses.add_query(key, now - 300 + i, "STARTED") for i in range(30)]
    exporter = run_exporter(
        proxy.url, config(a, "collectors: {protected_queries: {enabled: true}}")
    )
    for number, query in enumerate(queries):
        fake.analyses.set_status(QUERIES, key, query, "FAILED", error=f"Code{number:02d}")
    poll_again(exporter, a, "protected_queries")
    where = where_of(a, collaboration)
    codes = {
        s.labels["error_code"]: s.value
        for family in exporter.registry.collect()
        if family.name == "cleanrooms_protected_query_errors"
        for s in family.samples
        if s.labels.get("membership_id") == where["membership_id"]
    }
    assert len(codes) == 21
    assert codes.pop("other") == 10
    assert set(codes.values()) == {1.0}


def test_a_denied_get_leaves_the_collector_up_and_counts_the_drops(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    key = (a, "us-east-1", collaboration.membership_id)
    job = fake.analyses.add_job(key, time.time() - 60, "STARTED")
    exporter = run_exporter(proxy.url, config(a, "collectors: {protected_jobs: {enabled: true}}"))

    def deny(seen: Seen) -> Reply | None:
        if seen.operation == "GetProtectedJob":
            return Reply.aws_error(403, "AccessDeniedException", "no GetProtectedJob")
        return None

    proxy.rules.append(deny)
    fake.analyses.set_status(JOBS, key, job, "SUCCESS", units=3.0)
    where = where_of(a, collaboration)
    health = {"account_id": a, "region": "us-east-1", "collector": "protected_jobs"}
    for attempt in range(3):  # tried on three polls, one Get each, then dropped
        poll_again(exporter, a, "protected_jobs")
        assert value(exporter, "cleanrooms_collector_up", **health) == 1
        assert len(proxy.calls("GetProtectedJob", a)) == attempt + 1
    dropped = {**where, "collector": "protected_jobs", "reason": "access_denied"}
    assert value(exporter, "cleanrooms_analysis_details_dropped_total", **dropped) == 1
    backlog = {**where, "collector": "protected_jobs"}
    assert value(exporter, "cleanrooms_analysis_details_backlog", **backlog) == 0
    finished = "cleanrooms_protected_jobs_finished_total"
    assert value(exporter, finished, **where, status="SUCCESS") == 1  # the list part counted it
    poll_again(exporter, a, "protected_jobs")
    assert len(proxy.calls("GetProtectedJob", a)) == 3  # given up: not asked again


def test_details_off_makes_no_get(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    key = (a, "us-east-1", collaboration.membership_id)
    query = fake.analyses.add_query(key, time.time() - 60, "STARTED")
    collectors = "collectors: {protected_queries: {enabled: true, details: false}}"
    exporter = run_exporter(proxy.url, config(a, collectors))
    fake.analyses.set_status(QUERIES, key, query, "SUCCESS", units=1.0)
    poll_again(exporter, a, "protected_queries")
    finished = "cleanrooms_protected_queries_finished_total"
    assert value(exporter, finished, **where_of(a, collaboration), status="SUCCESS") == 1
    assert proxy.calls("GetProtectedQuery", a) == []


def test_a_get_botocore_refuses_to_send_is_dropped_at_once_and_the_poll_stands(
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
    good = fake.analyses.add_query(key, now - 60, "STARTED")
    exporter = run_exporter(
        proxy.url, config(a, "collectors: {protected_queries: {enabled: true}}")
    )
    fake.analyses.set_status(QUERIES, key, good, "FAILED", units=0.5, error="InvalidQuery")
    # The listing names a query whose id is shorter than GetProtectedQuery's model allows
    # (36 characters): botocore refuses to send its Get. It is the older, so tried first.
    short = {**fake.analyses.analyses(QUERIES, key)[0], "id": "q-1", "createTime": now - 120}

    def listing(seen: Seen) -> Reply | None:
        if seen.operation != "ListProtectedQueries" or seen.account_id != a:
            return None
        summaries = [*fake.analyses.analyses(QUERIES, key), short]
        body = json.dumps({"protectedQueries": summaries}).encode()
        return Reply(200, body, {"Content-Type": "application/json"})

    proxy.rules.append(listing)
    poll_again(exporter, a, "protected_queries")
    where = where_of(a, collaboration)
    health = {"account_id": a, "region": "us-east-1", "collector": "protected_queries"}
    assert value(exporter, "cleanrooms_collector_up", **health) == 1
    finished = "cleanrooms_protected_queries_finished_total"
    assert value(exporter, finished, **where, status="FAILED") == 2  # the listing counted both
    dropped = {**where, "collector": "protected_queries", "reason": "invalid_request"}
    assert value(exporter, "cleanrooms_analysis_details_dropped_total", **dropped) == 1
    # The good one was fetched after it: its error code and cost are in.
    errors = "cleanrooms_protected_query_errors_total"
    assert value(exporter, errors, **where, error_code="InvalidQuery", retryable="unknown") == 1
    assert billed(exporter, where, "FAILED") == 0.5 * HOUR
    assert [c.path.rsplit("/", 1)[-1] for c in proxy.calls("GetProtectedQuery", a)] == [good]
    poll_again(exporter, a, "protected_queries")  # dropped at once: never tried again
    assert value(exporter, "cleanrooms_analysis_details_dropped_total", **dropped) == 1
    assert len(proxy.calls("GetProtectedQuery", a)) == 1
