"""The protected_jobs collector against the fake: counts, finished counters, calls per poll."""

from __future__ import annotations

import time
from collections.abc import Callable

from exporter.app import App
from exporter.demo.fake.analyses_store import JOBS
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy
from tests.helpers import Seeder, config, poll_again, value, where_of

HOUR = 3600.0


STATUSES = ("SUBMITTED", "STARTED", "CANCELLED", "CANCELLING", "FAILED", "SUCCESS")


def age_of(exporter: App, where: dict[str, str]) -> float | None:
    return value(exporter, "cleanrooms_protected_job_oldest_running_age_seconds", **where)


def seed_jobs(fake: FakeCleanRooms, key: tuple[str, str, str]) -> str:
    """130 jobs within a 6h lookback (two pages), 300 older; the id of the one running."""
    now = time.time()
    for index in range(130):
        fake.analyses.add_job(key, now - 60 * index - 30, "SUCCESS")
    running = fake.analyses.add_job(key, now - 2 * HOUR, "STARTED")
    fake.analyses.add_job(key, now - 3 * HOUR, "CANCELLING")
    for index in range(300):  # older than the lookback: never asked for
        fake.analyses.add_job(key, now - 7 * HOUR - index, "FAILED")
    return running


def test_job_counts_finished_once_oldest_running_and_calls_per_poll(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    key = (a, "us-east-1", collaboration.membership_id)
    running = seed_jobs(fake, key)
    collectors = "collectors: {protected_jobs: {enabled: true, lookback: 6h}}\n"
    exporter = run_exporter(proxy.url, config(a, collectors))
    where = where_of(a, collaboration)

    def jobs(status: str) -> float | None:
        return value(exporter, "cleanrooms_protected_jobs", **where, status=status)

    def done(status: str) -> float | None:
        return value(exporter, "cleanrooms_protected_jobs_finished_total", **where, status=status)

    assert {s: jobs(s) for s in STATUSES} == {
        "SUBMITTED": 0,
        "STARTED": 1,
        "CANCELLED": 0,
        "CANCELLING": 1,
        "FAILED": 0,
        "SUCCESS": 130,
    }
    assert jobs("TIMED_OUT") is None  # not a job status
    assert [done(s) for s in ("SUCCESS", "FAILED", "CANCELLED")] == [0, 0, 0]
    age = value(exporter, "cleanrooms_protected_job_oldest_running_age_seconds", **where)
    assert age is not None
    assert 2 * HOUR <= age < 2 * HOUR + 60
    # 432 jobs would be 5 pages; the first older than 6h is on page 2.
    assert len(proxy.calls("ListProtectedJobs", a)) == 2

    fake.analyses.set_status(JOBS, key, running, "FAILED")
    for _ in (2, 3):  # the third poll sees nothing new
        poll_again(exporter, a, "protected_jobs")
        assert done("FAILED") == 1
        assert jobs("STARTED") == 0
        assert age_of(exporter, where) == 0
    assert len(proxy.calls("ListProtectedJobs", a)) == 2 + 2 + 2
