"""The ml_inference_jobs collector against the fake: counts by status, oldest in progress."""

from __future__ import annotations

import time
from collections.abc import Callable

from exporter.app import App
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy
from tests.helpers import Seeder, config, value, where_of


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
