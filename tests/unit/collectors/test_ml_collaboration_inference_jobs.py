"""The ml_collaboration_inference_jobs collector: every member's inference jobs, and who pays."""

from __future__ import annotations

from typing import Any

from exporter.collectors import ml_collaboration_inference_jobs, ml_inference_jobs
from exporter.collectors.base import TargetData
from exporter.collectors.collaboration_listings import SharedData
from exporter.core.series import OutputSettings
from exporter.metrics.declared import families
from tests.unit.collectors.stub_aws import StubAws, context, parent, when

SPEC = ml_collaboration_inference_jobs.SPEC
KIND = ml_collaboration_inference_jobs.KIND
NOW = 1_800_000_000.0
US, PARTNER = "111111111111", "444444444444"


def job(name: str, status: str, payer: str, age: float = 60) -> dict[str, Any]:
    return {
        "trainedModelInferenceJobArn": f"arn:aws:cleanrooms-ml:us-east-1:{PARTNER}:job/{name}",
        "status": status,
        "createTime": when(NOW - age),
        "creatorAccountId": PARTNER,
        "mlModelInferencePayerAccountId": payer,
    }


def test_jobs_by_payer_the_oldest_running_and_a_failure_once() -> None:
    aws = StubAws()
    listed = [job("a", "CREATE_IN_PROGRESS", US, age=7200), job("b", "ACTIVE", PARTNER)]
    aws.put(KIND.operation, KIND.list_key, listed, collaborationIdentifier="c1")
    first: SharedData = SPEC.polling.poll(context(aws, now=NOW))
    assert KIND.rules == ml_inference_jobs.KIND.rules  # the statuses of the job itself
    aws.put(
        KIND.operation,
        KIND.list_key,
        [job("a", "CREATE_FAILED", US, age=7200), job("b", "ACTIVE", PARTNER)],
        collaborationIdentifier="c1",
    )
    second: SharedData = SPEC.polling.poll(context(aws, first, now=NOW))
    item = TargetData((US, "us-east-1"), second, parent())
    built = {f.name: f for f in families(SPEC, [item], OutputSettings())}
    failed = {
        s.labels["account_role"]: s.value
        for s in built["cleanrooms_ml_collaboration_inference_jobs_failed"].samples
    }
    assert failed["payer"] == 1
    assert failed["neither"] == 0
    (age,) = SPEC.rendering.ages
    points = dict(age.points(TargetData((US, "us-east-1"), first, parent())))
    assert points[("m1", "c1", PARTNER, US, "payer")] == NOW - 7200
    assert points[("m1", "c1", PARTNER, PARTNER, "neither")] is None
    assert aws.count(KIND.operation) == 2  # one page per poll
