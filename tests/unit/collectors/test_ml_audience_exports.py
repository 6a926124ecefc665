"""The ml_audience_exports collector: export jobs by status, failures once, by bounded reason."""

from __future__ import annotations

from typing import Any

from exporter.collectors import export_jobs, ml_audience_exports
from exporter.collectors.base import TargetData
from exporter.collectors.ml_audience_exports import AudienceExports
from exporter.core.model import ACTION, FAILED_WORK
from exporter.core.series import OutputSettings
from exporter.metrics.declared import families
from tests.unit.collectors.stub_aws import StubAws, context, when

SPEC = ml_audience_exports.SPEC
NOW = 1_800_000_000.0
KEY = ("111111111111", "us-east-1")
GENERATION = "arn:aws:cleanrooms-ml:us-east-1:111111111111:audience-generation-job/g"


def export(name: str, status: str, code: str | None = None, age: float = 60) -> dict[str, Any]:
    found: dict[str, Any] = {
        "name": name,
        "audienceGenerationJobArn": GENERATION,
        "status": status,
        "createTime": when(NOW - age),
    }
    if code is not None:
        found["statusDetails"] = {"statusCode": code, "message": "m"} if code else {}
    return found


def poll(aws: StubAws, *exports: dict[str, Any], old: Any = None) -> AudienceExports:
    aws.put("ListAudienceExportJobs", "audienceExportJobs", list(exports))
    data: AudienceExports = SPEC.polling.poll(context(aws, old, now=NOW))
    return data


def by_name(data: AudienceExports) -> dict[str, dict[str, float]]:
    built = families(SPEC, [TargetData(KEY, data)], OutputSettings())
    return {
        f.name: {
            ",".join(s.labels.get(k, "") for k in ("status", "reason")): s.value for s in f.samples
        }
        for f in built
    }


def test_counts_by_status_failures_once_by_reason_and_the_baseline() -> None:
    aws = StubAws()
    first = poll(aws, export("old", "CREATE_FAILED", "Expired"), export("e", "CREATE_PENDING"))
    assert first.reasons == {}  # the baseline counts nothing
    second = poll(
        aws,
        export("old", "CREATE_FAILED", "Expired"),
        export("e", "CREATE_FAILED", "AccessDenied"),
        export("f", "CREATE_FAILED", ""),  # statusDetails without a code
        old=first,
    )
    third = poll(
        aws, *[export(n, "CREATE_FAILED", "AccessDenied") for n in ("old", "e", "f")], old=second
    )
    found = by_name(third)
    assert found["cleanrooms_ml_audience_export_jobs"] == {
        "CREATE_PENDING,": 0,
        "CREATE_IN_PROGRESS,": 0,
        "CREATE_FAILED,": 3,
        "ACTIVE,": 0,
    }
    assert found["cleanrooms_ml_audience_export_jobs_failed"] == {",": 2}
    assert found["cleanrooms_ml_audience_export_jobs_failed_by_reason"] == {
        ",AccessDenied": 1,
        ",unspecified": 1,
    }
    assert aws.count("ListAudienceExportJobs") == 3


def test_at_most_twenty_reasons_then_other() -> None:
    aws = StubAws()
    first = poll(aws)
    failing = [export(f"e{n}", "CREATE_FAILED", f"Code{n:02d}") for n in range(25)]
    second = poll(aws, *failing, old=first)
    assert len(second.reasons) == export_jobs.MAX_REASONS + 1
    assert second.reasons["other"] == 5
    third = poll(aws, *failing, export("x", "CREATE_FAILED", "Code00"), old=second)
    assert third.reasons["Code00"] == 2  # a known reason keeps its own label
    assert third.reasons["other"] == 5


def test_the_oldest_in_progress_pages_and_the_status_page() -> None:
    aws = StubAws()
    exports = [export(f"e{n}", "ACTIVE", age=n) for n in range(150)]
    data = poll(
        aws,
        *exports,
        export("slow", "CREATE_IN_PROGRESS", age=5000),
        export("bad", "CREATE_FAILED", "KMS"),
    )
    assert aws.count("ListAudienceExportJobs") == 2
    (age,) = SPEC.rendering.ages
    assert age.points(TargetData(KEY, data)) == [((), NOW - 5000)]
    (finding,) = SPEC.shown.findings(KEY, data, NOW)  # type: ignore[misc]
    assert (finding.severity, finding.kind, finding.membership_id) == (ACTION, FAILED_WORK, "")
    assert finding.what == "audience export jobs failed: 1 in CREATE_FAILED"
    malformed = poll(aws, {**export("x", "ACTIVE"), "audienceGenerationJobArn": None})
    assert malformed.invalid_items == 1
