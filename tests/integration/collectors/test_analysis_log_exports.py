"""analysis_log_exports against the fake: every page, failures once, one Get per new failure."""

from __future__ import annotations

import time
from collections.abc import Callable

from exporter.app import App
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy, Reply, Seen
from tests.helpers import Seeder, config, poll_again, value, where_of

OPERATION = "ListAnalysisLogExports"
GET = "GetAnalysisLogExport"


def test_counts_a_failure_once_and_fetches_its_error_code_once(
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
    for number in range(140):
        fake.log_exports.add(key, now - 7200 - number, "SUCCESS")
    fake.log_exports.add(key, now - 86400, "FAILED", error="OldError")
    running = fake.log_exports.add(key, now - 900)
    exporter = run_exporter(
        proxy.url, config(a, "collectors: {analysis_log_exports: {enabled: true}}")
    )
    where = where_of(a, collaboration)
    counts = "cleanrooms_analysis_log_exports"
    assert value(exporter, counts, **where, status="SUCCESS") == 140
    assert value(exporter, counts, **where, status="FAILED") == 1
    age = value(exporter, "cleanrooms_analysis_log_export_oldest_in_progress_age_seconds", **where)
    assert age is not None
    assert 900 <= age < 1000
    assert len(proxy.calls(OPERATION, a)) == 2  # ⌈142 / 100⌉
    assert proxy.calls(GET, a) == []  # the baseline fetches nothing
    fake.log_exports.set_status(key, running, "FAILED", time.time(), error="AccessDenied")
    poll_again(exporter, a, "analysis_log_exports")
    poll_again(exporter, a, "analysis_log_exports")
    failed = "cleanrooms_analysis_log_exports_failed_total"
    assert value(exporter, failed, **where) == 1
    errors = "cleanrooms_analysis_log_export_errors_total"
    assert value(exporter, errors, **where, error_code="AccessDenied") == 1
    assert value(exporter, errors, **where, error_code="OldError") is None
    assert fake.log_exports.gets[running] == 1
    assert len(proxy.calls(GET, a)) == 1


def test_a_denied_get_leaves_the_collector_up_and_shows_in_the_drops(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    key = (a, "us-east-1", collaboration.membership_id)
    running = fake.log_exports.add(key, time.time())

    def deny(seen: Seen) -> Reply | None:
        if seen.operation == GET:
            return Reply.aws_error(403, "AccessDeniedException", "not authorized")
        return None

    proxy.rules.append(deny)
    exporter = run_exporter(
        proxy.url, config(a, "collectors: {analysis_log_exports: {enabled: true}}")
    )
    fake.log_exports.set_status(key, running, "FAILED", time.time(), error="X")
    for _ in range(3):  # three attempts, then dropped
        poll_again(exporter, a, "analysis_log_exports")
    where = where_of(a, collaboration)
    here = {"account_id": a, "region": "us-east-1", "collector": "analysis_log_exports"}
    assert value(exporter, "cleanrooms_collector_up", **here) == 1
    dropped = "cleanrooms_analysis_log_export_details_dropped_total"
    assert value(exporter, dropped, **where, reason="access_denied") == 1
    assert value(exporter, "cleanrooms_analysis_log_export_details_backlog", **where) == 0
