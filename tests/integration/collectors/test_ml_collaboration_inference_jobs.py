"""ml_collaboration_inference_jobs against the fake: every member's jobs, paged, and who pays."""

from __future__ import annotations

import time
from collections.abc import Callable

from exporter.app import App
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy
from tests.helpers import Seeder, config, poll_again, value, where_of

OPERATION = "ListCollaborationTrainedModelInferenceJobs"
COUNTS = "cleanrooms_ml_collaboration_inference_jobs"
PARTNER = ("444444444444", "us-east-1", "22222222-2222-4222-8222-222222222222")


def test_every_page_and_a_failed_job_this_account_pays_for_counted_once(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    now = time.time()
    for number in range(150):
        fake.ml.add_inference_job(PARTNER, collaboration.id, f"j{number}", "ACTIVE", now - number)
    job = fake.ml.add_inference_job(
        PARTNER, collaboration.id, "scores", "CREATE_IN_PROGRESS", now, payer=a
    )
    own = (a, "us-east-1", collaboration.membership_id)
    fake.ml.add_inference_job(own, collaboration.id, "ours", "ACTIVE", now)  # this account pays
    collectors = "collectors: {ml_collaboration_inference_jobs: {enabled: true}}"
    exporter = run_exporter(proxy.url, config(a, collectors))
    where = where_of(a, collaboration)
    partner = {**where, "creator_account_id": PARTNER[0]}
    assert (
        value(
            exporter,
            COUNTS,
            **partner,
            payer_account_id=PARTNER[0],
            account_role="neither",
            status="ACTIVE",
        )
        == 150
    )
    assert (
        value(
            exporter,
            COUNTS,
            **where,
            creator_account_id=a,
            payer_account_id=a,
            account_role="creator_and_payer",
            status="ACTIVE",
        )
        == 1
    )
    assert len(proxy.calls(OPERATION, a)) == 2  # ⌈152 / 100⌉
    fake.ml.set_status(job, "CREATE_FAILED", updated=time.time())
    poll_again(exporter, a, "ml_collaboration_inference_jobs")
    poll_again(exporter, a, "ml_collaboration_inference_jobs")
    failed = "cleanrooms_ml_collaboration_inference_jobs_failed_total"
    assert value(exporter, failed, **where, account_role="payer") == 1
    assert value(exporter, failed, **where, account_role="neither") == 0
