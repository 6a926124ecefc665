"""The ml_inference_jobs collector against the fake: counts by status, oldest in progress."""

from __future__ import annotations

import time
from collections.abc import Callable

from exporter.app import App
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy
from tests.helpers import Seeder, config, poll_again, value, where_of


def test_inference_jobs_by_status_and_the_oldest_in_progress(
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
    fake.ml.add_inference_job(key, collaboration.id, "j1", "CREATE_IN_PROGRESS", now - 3600)
    fake.ml.add_inference_job(key, collaboration.id, "j2", "ACTIVE", now - 60)
    collectors = "collectors: {ml_inference_jobs: {enabled: true}}"
    exporter = run_exporter(proxy.url, config(a, collectors))
    where = where_of(a, collaboration)
    assert value(exporter, "cleanrooms_ml_inference_jobs", **where, status="ACTIVE") == 1
    assert value(exporter, "cleanrooms_ml_inference_jobs", **where, status="INACTIVE") == 0
    age = value(exporter, "cleanrooms_ml_inference_job_oldest_in_progress_age_seconds", **where)
    assert age is not None
    assert 3600 <= age < 3700
    assert len(proxy.calls("ListTrainedModelInferenceJobs", a)) == 1


def test_a_job_whose_logs_fail_to_publish_is_counted_once(
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
    done = fake.ml.add_inference_job(key, collaboration.id, "done", "ACTIVE", now - 600)
    fake.ml.set_publication(done, metrics="PUBLISH_SUCCEEDED", logs="PUBLISH_SUCCEEDED")
    running = fake.ml.add_inference_job(key, collaboration.id, "run", "CREATE_IN_PROGRESS", now)
    exporter = run_exporter(
        proxy.url, config(a, "collectors: {ml_inference_jobs: {enabled: true}}")
    )
    where = where_of(a, collaboration)
    counts = "cleanrooms_ml_inference_job_publications"
    failures = "cleanrooms_ml_inference_job_publish_failures_total"
    assert value(exporter, counts, **where, publication="logs", status="PUBLISH_SUCCEEDED") == 1
    assert value(exporter, failures, **where, publication="logs") == 0
    fake.ml.set_status(running, "ACTIVE")
    fake.ml.set_publication(running, metrics="PUBLISH_SUCCEEDED", logs="PUBLISH_FAILED")
    for _ in range(2):  # counted once, however many polls see it
        poll_again(exporter, a, "ml_inference_jobs")
        assert value(exporter, failures, **where, publication="logs") == 1
        assert value(exporter, failures, **where, publication="metrics") == 0
    assert value(exporter, counts, **where, publication="logs", status="PUBLISH_FAILED") == 1
    assert value(exporter, counts, **where, publication="metrics", status="PUBLISH_SUCCEEDED") == 2
    assert len(proxy.calls("ListTrainedModelInferenceJobs", a)) == 3  # one a poll
