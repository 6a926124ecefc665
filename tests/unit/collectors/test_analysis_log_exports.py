"""The analysis_log_exports collector: counts, failures once, one Get per newly failed export."""

from __future__ import annotations

from typing import Any

from exporter.collectors import analysis_log_exports
from exporter.collectors.analysis_log_exports import KIND, LogExportsData
from exporter.collectors.base import TargetData
from exporter.core.errors import ApiError
from exporter.core.model import ACTION, INFO
from exporter.core.series import OutputSettings
from exporter.metrics.declared import families
from tests.unit.collectors.stub_aws import StubAws, context, parent, when

SPEC = analysis_log_exports.SPEC
NOW = 1_800_000_000.0
KEY = ("111111111111", "us-east-1")


def export(export_id: str, status: str, age: float = 60) -> dict[str, Any]:
    return {
        "analysisLogExportId": export_id,
        "analysisId": "q-" + export_id,
        "analysisType": "PROTECTED_QUERY",
        "status": status,
        "createTime": when(NOW - age),
    }


class Gets:
    """GetAnalysisLogExport answers: each export's error code, or an error to raise."""

    def __init__(self, codes: dict[str, Any]) -> None:
        self.codes = codes
        self.asked: list[str] = []

    def __call__(self, params: dict[str, Any]) -> Any:
        wanted = params["analysisLogExportIdentifier"]
        self.asked.append(wanted)
        code = self.codes[wanted]
        if isinstance(code, Exception):
            raise code
        return {"analysisLogExport": {"status": "FAILED", "error": {"code": code, "message": "m"}}}


def poll(aws: StubAws, *exports: dict[str, Any], old: Any = None, **options: Any) -> LogExportsData:
    aws.put(KIND.operation, KIND.list_key, list(exports), membershipIdentifier="m1")
    data: LogExportsData = SPEC.polling.poll(context(aws, old, now=NOW, options=options))
    return data


def samples(data: LogExportsData) -> dict[str, dict[str, float]]:
    built = families(SPEC, [TargetData(KEY, data, parent())], OutputSettings())
    return {
        f.name: {
            ",".join(v for k, v in sorted(s.labels.items()) if k in ("status", "error_code")): (
                s.value
            )
            for s in f.samples
        }
        for f in built
    }


def test_failures_counted_once_each_fetched_once_for_its_error_code() -> None:
    aws = StubAws()
    gets = aws.answers["GetAnalysisLogExport"] = Gets({"new": "AccessDenied", "b": "NoBucket"})
    first = poll(aws, export("old", "FAILED"), export("new", "IN_PROGRESS", age=7 * 3600))
    assert gets.asked == []  # the baseline: an old failure is neither counted nor fetched
    second = poll(aws, export("old", "FAILED"), export("new", "FAILED"), old=first)
    third = poll(aws, export("old", "FAILED"), export("new", "FAILED"), old=second)
    assert gets.asked == ["new"]  # once
    found = samples(third)
    assert found["cleanrooms_analysis_log_exports"] == {"FAILED": 2, "IN_PROGRESS": 0, "SUCCESS": 0}
    assert found["cleanrooms_analysis_log_exports_failed"] == {"": 1}
    assert found["cleanrooms_analysis_log_export_errors"] == {"AccessDenied": 1}
    assert found["cleanrooms_analysis_log_export_details_backlog"] == {"": 0}
    (age,) = SPEC.rendering.ages
    assert age.points(TargetData(KEY, first, parent())) == [(("m1", "c1"), NOW - 7 * 3600)]
    what = [(f.severity, f.what) for f in SPEC.shown.findings(KEY, first, NOW)]  # type: ignore[misc]
    assert what == [
        (ACTION, "analysis log exports failed: 1 in FAILED"),
        (INFO, "analysis log exports: the oldest has been in progress for 7h"),
    ]


def test_gets_are_bounded_per_poll_and_a_denied_get_leaves_the_listing_up() -> None:
    aws = StubAws()
    ids = [f"e{n}" for n in range(5)]
    gets = aws.answers["GetAnalysisLogExport"] = Gets(dict.fromkeys(ids, "Timeout"))
    first = poll(aws, *[export(i, "IN_PROGRESS") for i in ids])
    second = poll(aws, *[export(i, "FAILED") for i in ids], old=first, details_per_poll=2)
    assert gets.asked == ["e0", "e1"]
    assert len(second.per_collaboration["c1"].details.backlog) == 3
    gets.codes["e2"] = ApiError("GetAnalysisLogExport", "AccessDeniedException", "no")
    third = poll(aws, *[export(i, "FAILED") for i in ids], old=second, details_per_poll=2)
    assert gets.asked[2:] == ["e2"]  # a denial ends this poll's Gets
    assert samples(third)["cleanrooms_analysis_log_export_errors"] == {"Timeout": 2}
    assert samples(third)["cleanrooms_analysis_log_exports_failed"] == {"": 5}
    off = poll(
        aws, *[export(i, "FAILED") for i in ids], export("x", "FAILED"), old=third, details=0.0
    )
    assert len(gets.asked) == 3  # details off: no Get
    assert samples(off)["cleanrooms_analysis_log_exports_failed"] == {"": 6}


def test_every_page_one_call_each() -> None:
    aws = StubAws()
    data = poll(aws, *[export(f"e{n}", "SUCCESS") for n in range(201)])
    assert aws.count(KIND.operation) == 3
    assert data.per_collaboration["c1"].tally.counts["SUCCESS"] == 201
