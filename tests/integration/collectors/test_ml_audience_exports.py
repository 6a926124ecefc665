"""ml_audience_exports against the fake: every page, a failure once by its reason, per target."""

from __future__ import annotations

import time
from collections.abc import Callable

from exporter.app import App
from exporter.demo.fake.ml_store import ml_arn
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy, Reply, Seen
from tests.helpers import config, poll_again, value

OPERATION = "ListAudienceExportJobs"
ON = "collectors: {ml_audience_exports: {enabled: true}}"
OLDEST = "cleanrooms_ml_audience_export_job_oldest_in_progress_age_seconds"


def test_exports_by_status_and_a_failure_once_by_reason(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    target = (a, "us-east-1")
    generation = ml_arn(target, "audience-generation-job")
    now, exports = time.time(), fake.ml_exports
    for number in range(205):  # three pages
        exports.add_audience_export(target, generation, f"e{number}", "ACTIVE", now - number)
    fake.ml_exports.add_audience_export(
        target, generation, "old", "CREATE_FAILED", now - 86400, reason="Expired"
    )
    running = fake.ml_exports.add_audience_export(
        target, generation, "weekly", "CREATE_IN_PROGRESS", now - 1800
    )
    exporter = run_exporter(proxy.url, config(a, ON))
    here = {"account_id": a, "region": "us-east-1"}
    counts = "cleanrooms_ml_audience_export_jobs"
    assert value(exporter, counts, **here, status="ACTIVE") == 205
    assert value(exporter, counts, **here, status="CREATE_FAILED") == 1
    failed = "cleanrooms_ml_audience_export_jobs_failed_total"
    assert value(exporter, failed, **here) == 0  # the baseline
    age = value(exporter, OLDEST, **here)
    assert age is not None
    assert 1800 <= age < 1900
    assert len(proxy.calls(OPERATION, a)) == 3  # ⌈207 / 100⌉
    fake.ml_exports.set_status(running, "CREATE_FAILED", time.time(), reason="AccessDenied")
    poll_again(exporter, a, "ml_audience_exports")
    poll_again(exporter, a, "ml_audience_exports")
    assert value(exporter, failed, **here) == 1
    reasons = "cleanrooms_ml_audience_export_jobs_failed_by_reason_total"
    assert value(exporter, reasons, **here, reason="AccessDenied") == 1
    assert value(exporter, reasons, **here, reason="Expired") is None  # never counted


def test_denied_exports_leave_the_other_ml_collectors_up(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    new_account: Callable[[], str],
) -> None:
    a = new_account()

    def deny(seen: Seen) -> Reply | None:
        if seen.operation == OPERATION:
            return Reply.aws_error(403, "AccessDeniedException", "not authorized")
        return None

    proxy.rules.append(deny)
    collectors = "collectors: {ml_audience_exports: {enabled: true}, ml_audiences: {enabled: true}}"
    exporter = run_exporter(proxy.url, config(a, collectors))
    here = {"account_id": a, "region": "us-east-1"}
    assert value(exporter, "cleanrooms_collector_up", **here, collector="ml_audience_exports") == 0
    assert value(exporter, "cleanrooms_collector_up", **here, collector="ml_audiences") == 1
