"""The ml_inference_jobs collector: its kind, counted by status per ACTIVE membership."""

from __future__ import annotations

from datetime import UTC, datetime

from exporter.collectors import ml_inference_jobs
from exporter.collectors.base import TargetData
from exporter.collectors.collaborations import PollData
from exporter.collectors.listings import Listed, ListingsData, findings
from exporter.collectors.status_counts import parse_items, tally
from exporter.core.model import ACTION, INFO
from exporter.core.series import OutputSettings
from exporter.metrics.declared import families
from tests.helpers import active_collaboration

NOW = 1_800_000_000.0
KEY = ("111111111111", "us-east-1")
KIND = ml_inference_jobs.KIND


def summary(rid: str, status: str, age: float) -> dict[str, object]:
    return {
        "trainedModelInferenceJobArn": rid,
        "status": status,
        "createTime": datetime.fromtimestamp(NOW - age, UTC),
    }


def test_failed_and_stuck_ones_are_counted_and_to_act_on() -> None:
    items, invalid = parse_items(
        [
            summary("arn:f", "CREATE_FAILED", 60),
            summary("arn:s", "CREATE_IN_PROGRESS", 7 * 3600),
            {"status": "ACTIVE"},
        ],
        KIND.id_key,
    )
    assert invalid == 1
    found = Listed("m1", tally(KIND.rules, items, None), tuple(items))
    jobs = ListingsData({"c1": found, "c2": Listed("m2", tally(KIND.rules, [], None))})
    data = ml_inference_jobs.InferenceJobsData(jobs)
    what = [(f.severity, f.membership_id, f.what) for f in findings(KIND, KEY, jobs, NOW)]
    assert ml_inference_jobs.SPEC.shown.findings is not None
    assert ml_inference_jobs.SPEC.shown.findings(KEY, data, NOW) == findings(KIND, KEY, jobs, NOW)
    assert what == [
        (ACTION, "m1", f"{KIND.noun} failed: 1 in CREATE_FAILED"),
        # Training can take hours: worth knowing, not a failure.
        (INFO, "m1", f"{KIND.noun}: the oldest has been in progress for 7h"),
    ]
    # Only the still ACTIVE collaborations have series.
    parent = PollData((active_collaboration("c1", "m1"),), {}, None)
    built = families(ml_inference_jobs.SPEC, [TargetData(KEY, data, parent)], OutputSettings())
    counts = {s.labels["status"]: s.value for s in built[0].samples}
    assert counts["CREATE_FAILED"] == 1
    assert {s.labels["collaboration_id"] for s in built[0].samples} == {"c1"}
    assert [f.name for f in built] == [
        KIND.counts_name,
        KIND.failed_name,
        "cleanrooms_ml_inference_job_publications",
        "cleanrooms_ml_inference_job_publish_failures",
    ]


def listed(*jobs: tuple[str, str | None, str | None]) -> Listed:
    """A membership's jobs: (ARN, logsStatus, metricsStatus), None when not sent."""
    summaries = []
    for arn, logs, metrics in jobs:
        found = summary(arn, "ACTIVE", 60)
        found.update({k: v for k, v in (("logsStatus", logs), ("metricsStatus", metrics)) if v})
        summaries.append(found)
    items, _ = parse_items(summaries, KIND.id_key, KIND.kept_fields)
    return Listed("m1", tally(KIND.rules, items, None), tuple(items))


def test_publications_by_status_and_each_failure_counted_once_after_the_baseline() -> None:
    first = ml_inference_jobs.publications(
        listed(("arn:a", "PUBLISH_FAILED", "PUBLISH_SUCCEEDED"), ("arn:b", None, None)), None
    )
    assert dict(first["logs"].counts) == {"PUBLISH_FAILED": 1, "PUBLISH_SUCCEEDED": 0}
    assert dict(first["metrics"].counts) == {"PUBLISH_FAILED": 0, "PUBLISH_SUCCEEDED": 1}
    assert first["logs"].once_total == 0  # the baseline counts nothing
    jobs = (
        ("arn:a", "PUBLISH_FAILED", "PUBLISH_SUCCEEDED"),
        ("arn:b", "PUBLISH_FAILED", "PUBLISH_FAILED"),
        ("arn:c", "PUBLISH_SUCCEEDED", None),
    )
    second = ml_inference_jobs.publications(listed(*jobs), first)
    assert second["logs"].once_total == 1  # arn:b, newly failed; arn:a was there before
    assert second["metrics"].once_total == 1
    third = ml_inference_jobs.publications(listed(*jobs), second)
    assert third["logs"].once_total == 1  # never twice
    assert dict(third["logs"].counts) == {"PUBLISH_FAILED": 2, "PUBLISH_SUCCEEDED": 1}
