"""Resources counted by status: the tally, the failed counter's rule, and what is to act on."""

from __future__ import annotations

from datetime import UTC, datetime

import botocore.session
import pytest

from exporter.collectors import (
    intermediate_tables,
    ml_audiences,
    ml_inference_jobs,
    ml_input_channels,
    ml_trained_models,
    resources,
)
from exporter.collectors.resources import Resource, ResourcesData, Tally, tally
from exporter.core.model import ACTION, AT_LIMIT, FAILED_WORK, FAILING, INFO, RUNNING_LOW

KIND = ml_trained_models.KIND
DAY = 86400.0
NOW = 1_800_000_000.0
KEY = ("111111111111", "us-east-1")


def model(rid: str, status: str, created: float = NOW - DAY, **summary: object) -> Resource:
    return Resource(rid, status, created, {"name": rid, **summary})


def test_every_status_present_unknown_ones_kept_and_a_repeated_id_once() -> None:
    found = tally(KIND, "m1", [model("a", "ACTIVE"), model("a", "ACTIVE"), model("b", "NEW")], None)
    assert found.counts["ACTIVE"] == 1
    assert found.counts["NEW"] == 1
    assert set(KIND.statuses) <= set(found.counts)


def test_the_first_poll_counts_no_failure_and_each_later_one_once() -> None:
    first = tally(
        KIND, "m1", [model("old", "CREATE_FAILED"), model("t", "CREATE_IN_PROGRESS")], None
    )
    assert first.failed_total == 0
    second = tally(KIND, "m1", [model("old", "CREATE_FAILED"), model("t", "CREATE_FAILED")], first)
    assert second.failed_total == 1
    third = tally(KIND, "m1", [model("old", "CREATE_FAILED"), model("t", "CREATE_FAILED")], second)
    assert third.failed_total == 1


def test_the_oldest_in_progress_is_of_pending_or_in_progress_ones() -> None:
    found = tally(
        KIND,
        "m1",
        [model("p", "CREATE_PENDING", NOW - 60), model("i", "CREATE_IN_PROGRESS", NOW - 600)],
        None,
    )
    assert found.oldest_in_progress == NOW - 600


def test_failed_work_is_to_act_on_and_long_running_work_is_information() -> None:
    found = tally(
        KIND,
        "m1",
        [model("f", "CREATE_FAILED"), model("s", "CREATE_IN_PROGRESS", NOW - 7 * 3600)],
        None,
    )
    what = [
        (f.kind, f.severity, f.weight, f.what)
        for f in resources.tally_findings(KIND, KEY, found, NOW)
    ]
    assert what == [
        (FAILED_WORK, ACTION, 1, "trained models failed: 1 in CREATE_FAILED"),
        # Training can take hours: worth knowing, not a failure.
        ("Running for hours", INFO, 7, "trained models: the oldest has been in progress for 7h"),
    ]


def iso(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_intermediate_tables_expire_from_their_last_population() -> None:
    table = Resource(
        "t1",
        "POPULATE_SUCCESS",
        NOW - 10 * DAY,
        {"name": "daily", "updateTime": iso(NOW - 5 * DAY), "retentionInDays": 7},
    )
    assert intermediate_tables.expiry(table) == NOW + 2 * DAY
    never = Resource("t2", "CREATED", NOW - DAY, {"name": "x", "retentionInDays": 1})
    assert intermediate_tables.expiry(never) == NOW  # no updateTime: its creation
    assert intermediate_tables.expiry(Resource("t3", "CREATED", NOW, {})) is None
    failed = Resource("t4", "DISALLOWED_BY_DATA_PROVIDER", NOW - DAY, {"name": "p"})
    populate = Resource("t5", "POPULATE_FAILED", NOW - DAY, {"name": "q"})
    found = tally(intermediate_tables.KIND, "m1", [table, failed, populate], None)
    data = ResourcesData({"c1": found})
    what = [
        (f.urgency, f.kind, f.severity, f.what)
        for f in intermediate_tables.findings(KEY, data, NOW)
    ]
    assert what == [
        (FAILING, FAILED_WORK, ACTION, "intermediate tables: 1 POPULATE_FAILED"),
        (
            FAILING,
            intermediate_tables.UNUSABLE,
            ACTION,
            "intermediate tables: 1 DISALLOWED_BY_DATA_PROVIDER",
        ),
        # Retention works as designed: amber, not red.
        (
            RUNNING_LOW,
            intermediate_tables.EXPIRES,
            AT_LIMIT,
            "intermediate table daily: its data expires in 48h",
        ),
    ]


def test_an_audience_model_not_retrained_for_a_week_is_listed() -> None:
    models = Tally("", {}, None, 0, frozenset(), (model("old", "ACTIVE", NOW - 8 * DAY),))
    empty = Tally("", {}, None, 0, frozenset())
    data = ml_audiences.AudiencesData((models, empty, empty))
    (finding,) = ml_audiences.findings(KEY, data, NOW)
    assert finding.what == "audience model old: trained 8 days ago; retraining advised"
    assert (finding.membership_id, finding.severity) == ("", INFO)  # the account's own


UPDATED = datetime.fromtimestamp(1_700_000_100, UTC)


def test_only_the_members_a_kind_reads_are_kept() -> None:
    # 25 whole summaries per membership and kind took most of the memory at scale.
    table = {
        "id": "t1",
        "status": "POPULATE_SUCCESS",
        "createTime": datetime.fromtimestamp(1_700_000_000, UTC),
        "updateTime": UPDATED,
        "name": "daily",
        "retentionInDays": 7,
        "membershipArn": "arn:aws:cleanrooms:us-east-1:111111111111:membership/m",
        "description": "x" * 1000,
    }
    kept = resources.parse(intermediate_tables.KIND, table)
    assert kept is not None
    assert dict(kept.summary) == {
        "name": "daily",
        "retentionInDays": 7,
        "updateTime": UPDATED,
    }
    model = {**table, "trainedModelArn": "arn:model", "status": "ACTIVE"}
    trained = resources.parse(ml_trained_models.KIND, model)
    assert trained is not None
    assert dict(trained.summary) == {}


KINDS = [
    intermediate_tables.KIND,
    ml_trained_models.KIND,
    ml_inference_jobs.KIND,
    ml_input_channels.KIND,
    ml_audiences.MODELS,
    ml_audiences.CONFIGURED,
    ml_audiences.JOBS,
]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.operation)
def test_every_status_of_the_service_model_is_exported(kind: resources.Kind) -> None:
    session = botocore.session.get_session()
    models = [session.get_service_model(s) for s in ("cleanrooms", "cleanroomsml")]
    (model,) = [m for m in models if kind.operation in m.operation_names]
    page = model.operation_model(kind.operation).output_shape
    summary = page.members[kind.list_key].member
    assert set(kind.statuses) == set(summary.members["status"].enum)
