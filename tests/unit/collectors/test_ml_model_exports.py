"""The ml_model_exports collector: a bounded rotation over trained models, failures once."""

from __future__ import annotations

from typing import Any

from exporter.collectors import ml_model_exports
from exporter.collectors.base import TargetData
from exporter.collectors.ml_model_exports import MODELS, OPERATION, ModelExportsData
from exporter.core.model import FAILED_WORK
from exporter.core.series import OutputSettings
from exporter.metrics.declared import families
from tests.unit.collectors.stub_aws import StubAws, collaboration, context, parent, when

SPEC = ml_model_exports.SPEC
NOW = 1_800_000_000.0
US, PARTNER, THIRD = "111111111111", "444444444444", "555555555555"
KEY = (US, "us-east-1")


def arn(name: str) -> str:
    return f"arn:aws:cleanrooms-ml:us-east-1:{PARTNER}:trained-model/{name}"


def models(aws: StubAws, *names: str, cid: str = "c1", status: str = "ACTIVE") -> None:
    listed = [
        {"trainedModelArn": arn(n), "status": status, "createTime": when(NOW - 600)} for n in names
    ]
    aws.put(MODELS, "collaborationTrainedModels", listed, collaborationIdentifier=cid)


def exports(aws: StubAws, model: str, *jobs: dict[str, Any], cid: str = "c1") -> None:
    aws.put(
        OPERATION,
        "collaborationTrainedModelExportJobs",
        list(jobs),
        collaborationIdentifier=cid,
        trainedModelArn=arn(model),
    )


def job(
    name: str, status: str, creator: str = PARTNER, to: tuple[str, ...] = (US,), code: str = ""
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "name": name,
        "trainedModelArn": arn("?"),
        "status": status,
        "createTime": when(NOW - 60),
        "creatorAccountId": creator,
        "outputConfiguration": {"members": [{"accountId": a} for a in to]},
    }
    if code:
        found["statusDetails"] = {"statusCode": code}
    return found


def poll(aws: StubAws, old: Any = None, per_poll: int = 20, **kw: Any) -> ModelExportsData:
    options = {"models_per_poll": per_poll}
    data: ModelExportsData = SPEC.polling.poll(context(aws, old, now=NOW, options=options, **kw))
    return data


def listed_models(aws: StubAws) -> list[str]:
    return [p["trainedModelArn"].rsplit("/", 1)[1] for op, p in aws.calls if op == OPERATION]


def test_at_most_models_per_poll_least_recently_listed_first_and_the_backlog() -> None:
    aws = StubAws()
    models(aws, "m0", "m1", "m2", "m3", "m4")
    first = poll(aws, per_poll=2)
    assert listed_models(aws) == ["m0", "m1"]
    assert first.per_collaboration["c1"].backlog == 3
    aws.calls.clear()
    second = poll(aws, first, per_poll=2)
    assert listed_models(aws) == ["m2", "m3"]
    aws.calls.clear()
    poll(aws, second, per_poll=2)
    assert listed_models(aws) == ["m4", "m0"]  # m4 never listed; then the oldest listing
    assert aws.count(MODELS) == 1  # one page of models a poll, plus one call per model


def test_an_old_failure_reached_late_by_the_rotation_is_a_baseline_a_new_models_is_news() -> None:
    aws = StubAws()
    models(aws, "m0", "m1")
    exports(aws, "m1", job("old", "CREATE_FAILED"))
    first = poll(aws, per_poll=1)  # m0 only
    second = poll(aws, first, per_poll=1)  # m1: its failure predates the exporter
    assert second.per_collaboration["c1"].failed == {}
    models(aws, "m0", "m1", "new")  # ACTIVE since the baseline
    exports(aws, "new", job("fresh", "CREATE_FAILED", code="KmsKeyDisabled"))
    third = poll(aws, second, per_poll=1)
    assert listed_models(aws)[-1] == "new"
    assert dict(third.per_collaboration["c1"].failed) == {(PARTNER, US): 1}
    assert dict(third.per_collaboration["c1"].reasons) == {"KmsKeyDisabled": 1}
    fourth = poll(aws, poll(aws, third, per_poll=1), per_poll=1)
    assert dict(fourth.per_collaboration["c1"].failed) == {(PARTNER, US): 1}  # once
    restarted = poll(aws, per_poll=5)
    assert restarted.per_collaboration["c1"].failed == {}


def test_series_by_this_accounts_part_and_findings_for_what_it_started_or_receives() -> None:
    aws = StubAws()
    models(aws, "m0")
    exports(aws, "m0", job("a", "CREATE_IN_PROGRESS", creator=US, to=(THIRD,)))
    first = poll(aws)
    exports(
        aws,
        "m0",
        job("a", "CREATE_FAILED", creator=US, to=(THIRD,), code="Denied"),
        job("b", "CREATE_FAILED", to=(US, THIRD)),
        job("c", "CREATE_FAILED", to=(THIRD,)),
        job("d", "ACTIVE", to=(THIRD,)),
    )
    data = poll(aws, first)
    built = {f.name: f for f in families(SPEC, [TargetData(KEY, data, parent())], OutputSettings())}
    counts = {
        (s.labels["account_role"], s.labels["status"]): s.value
        for s in built["cleanrooms_ml_model_export_jobs"].samples
    }
    assert len(counts) == 3 * 4  # every role and status, 0 when none
    assert counts[("creator", "CREATE_FAILED")] == 1
    assert counts[("receiver", "CREATE_FAILED")] == 1
    assert counts[("neither", "CREATE_FAILED")] == 1
    assert counts[("neither", "ACTIVE")] == 1
    failed = {
        s.labels["account_role"]: s.value
        for s in built["cleanrooms_ml_model_export_jobs_failed"].samples
    }
    assert failed == {"creator": 1, "receiver": 1, "neither": 1}
    reasons = {
        s.labels["reason"]: s.value
        for s in built["cleanrooms_ml_model_export_jobs_failed_by_reason"].samples
    }
    assert reasons == {"Denied": 1, "unspecified": 2}
    (backlog,) = built["cleanrooms_ml_model_export_backlog"].samples
    assert backlog.value == 0
    (finding,) = SPEC.shown.findings(KEY, data, NOW)  # type: ignore[misc]
    assert (finding.kind, finding.weight) == (FAILED_WORK, 2)


def test_reasons_are_bounded_per_target_across_collaborations() -> None:
    aws = StubAws()
    both = (collaboration("c1", "m1"), collaboration("c2", "m2"))
    for cid in ("c1", "c2"):
        models(aws, f"{cid}-m", cid=cid)
    first = poll(aws, collaborations=both)
    for cid in ("c1", "c2"):
        jobs = [job(f"{cid}-{n}", "CREATE_FAILED", code=f"{cid}-{n}") for n in range(12)]
        exports(aws, f"{cid}-m", *jobs, cid=cid)
    second = poll(aws, first, collaborations=both)
    reasons = [second.per_collaboration[c].reasons for c in ("c1", "c2")]
    named = {r for found in reasons for r in found if r != "other"}
    assert len(named) == 20
    assert reasons[1]["other"] == 4


def test_models_not_active_are_not_listed_for_exports() -> None:
    aws = StubAws()
    models(aws, "m0", status="CREATE_IN_PROGRESS")
    data = poll(aws)
    assert aws.count(OPERATION) == 0
    assert data.per_collaboration["c1"].models == {}


def test_every_page_of_models_and_of_each_models_exports() -> None:
    aws = StubAws()
    models(aws, *[f"m{n:03d}" for n in range(150)])
    exports(aws, "m000", *[job(f"e{n}", "ACTIVE") for n in range(101)])
    data = poll(aws, per_poll=2)
    assert aws.count(MODELS) == 2  # ⌈150 / 100⌉
    assert listed_models(aws) == ["m000", "m000", "m001"]  # two pages, then one (empty)
    assert data.per_collaboration["c1"].backlog == 148
