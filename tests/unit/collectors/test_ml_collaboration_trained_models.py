"""The ml_collaboration_trained_models collector, and the collaboration-wide listings it shares.

The cases the issue names: a payer seeing another member's failed training once (no
second count on later polls, none after a restart), every page followed, and sums over
the accounts that list the same collaboration counting each model once.
"""

from __future__ import annotations

from typing import Any

import pytest

from exporter.collectors import collaboration_listings, ml_collaboration_trained_models
from exporter.collectors.base import TargetData
from exporter.collectors.collaboration_listings import SharedData, role
from exporter.core.model import ACTION, FAILED_WORK
from exporter.core.series import OutputSettings
from exporter.metrics.declared import families
from tests.unit.collectors.stub_aws import StubAws, collaboration, context, parent, when

SPEC = ml_collaboration_trained_models.SPEC
KIND = ml_collaboration_trained_models.KIND
OPERATION = KIND.operation
NOW = 1_800_000_000.0
US, PARTNER, THIRD = "111111111111", "444444444444", "555555555555"
FAILED = "cleanrooms_ml_collaboration_trained_models_failed_total"


def model(
    name: str, status: str, creator: str = PARTNER, payer: str | None = US, **extra: Any
) -> dict[str, Any]:
    found = {
        "trainedModelArn": f"arn:aws:cleanrooms-ml:us-east-1:{creator}:trained-model/{name}",
        "name": name,
        "status": status,
        "createTime": when(NOW - 600),
        "updateTime": when(NOW - 60),
        "creatorAccountId": creator,
        **extra,
    }
    if payer is not None:
        found["mlModelTrainingPayerAccountId"] = payer
    return found


def listing(*models: dict[str, Any]) -> StubAws:
    aws = StubAws()
    aws.put(OPERATION, KIND.list_key, list(models), collaborationIdentifier="c1")
    return aws


def poll(aws: StubAws, previous: SharedData | None = None) -> SharedData:
    data: SharedData = SPEC.polling.poll(context(aws, previous, now=NOW))
    return data


def samples(data: SharedData, account: str = US) -> dict[str, dict[tuple[Any, ...], float]]:
    built = families(SPEC, [TargetData((account, "us-east-1"), data, parent())], OutputSettings())
    return {f.name: {tuple(sorted(s.labels.items())): s.value for s in f.samples} for f in built}


def failed(data: SharedData, part: str = "payer", account: str = US) -> float:
    (value,) = [
        v
        for labels, v in samples(data, account)[FAILED.removesuffix("_total")].items()
        if ("account_role", part) in labels
    ]
    return value


def test_a_payer_counts_another_members_failed_training_once_and_none_after_a_restart() -> None:
    first = poll(listing(model("churn", "CREATE_IN_PROGRESS")))
    assert failed(first) == 0
    aws = listing(model("churn", "CREATE_FAILED"))
    second = poll(aws, first)
    assert failed(second) == 1
    third = poll(aws, second)
    assert failed(third) == 1  # still failed: not counted again
    restarted = poll(aws)  # a restart: the first poll is a baseline
    assert failed(restarted) == 0
    assert failed(poll(aws, restarted)) == 0
    # Every role is there at 0, so increase() sees the first failure of any of them.
    roles = {
        dict(labels)["account_role"]: v
        for labels, v in samples(third)[FAILED.removesuffix("_total")].items()
    }
    assert roles == {"payer": 1, "creator_and_payer": 0, "creator": 0, "neither": 0}


def test_a_creator_first_seen_after_the_baseline_with_a_failure_counts_it() -> None:
    first = poll(listing(model("own", "ACTIVE", creator=US)))
    later = poll(listing(model("own", "ACTIVE", creator=US), model("x", "CREATE_FAILED")), first)
    assert failed(later) == 1
    # The group goes (its model deleted): its count stays, the counter never falls.
    gone = poll(listing(model("own", "ACTIVE", creator=US)), later)
    assert failed(gone) == 1


def test_series_by_creator_payer_and_this_accounts_part_with_every_status() -> None:
    data = poll(
        listing(
            model("a", "ACTIVE", creator=US),
            model("b", "CREATE_FAILED"),
            model("c", "ACTIVE", creator=THIRD, payer=THIRD),
            model("d", "ACTIVE", creator=THIRD, payer=None),
        )
    )
    counts = samples(data)[KIND.counts_name]
    groups = {
        (d["creator_account_id"], d["payer_account_id"], d["account_role"])
        for d in map(dict, counts)
    }
    assert groups == {
        (US, US, "creator_and_payer"),
        (PARTNER, US, "payer"),
        (THIRD, THIRD, "neither"),
        (THIRD, "", "neither"),  # AWS names no payer: none is guessed
    }
    assert len(counts) == 4 * len(KIND.rules.statuses)  # every status, 0 when none
    payer_failed = {
        d["status"]: v
        for d, v in ((dict(k), v) for k, v in counts.items())
        if d["account_role"] == "payer" and v
    }
    assert payer_failed == {"CREATE_FAILED": 1}


def test_each_version_of_a_model_is_its_own_and_malformed_ones_are_counted() -> None:
    aws = listing(
        model("v", "ACTIVE", versionIdentifier="1"),
        model("v", "CREATE_IN_PROGRESS", versionIdentifier="2"),
        {**model("bad", "ACTIVE"), "creatorAccountId": ""},
    )
    data = poll(aws)
    (found,) = data.per_collaboration.values()
    (counted,) = found.groups.values()
    assert counted.counts["ACTIVE"] == 1
    assert counted.counts["CREATE_IN_PROGRESS"] == 1
    assert data.invalid_items == 1
    assert counted.oldest_in_progress == NOW - 600


def test_every_page_is_followed() -> None:
    models = [model(f"m{n}", "ACTIVE") for n in range(250)]
    aws = listing(*models)
    data = poll(aws)
    assert aws.count(OPERATION) == 3  # ⌈250 / 100⌉
    assert sum(t.counts["ACTIVE"] for t in data.per_collaboration["c1"].groups.values()) == 250
    assert [p.get("nextToken") for _, p in aws.calls] == [None, "100", "200"]


def test_findings_name_the_creator_of_failed_work_this_account_pays_for() -> None:
    data = poll(
        listing(
            model("theirs", "CREATE_FAILED"),
            model("own", "CREATE_FAILED", creator=US),  # ml_trained_models reports it
            model("nobodys", "CREATE_FAILED", creator=THIRD, payer=THIRD),
        )
    )
    found = SPEC.shown.findings(("111111111111", "us-east-1"), data, NOW)  # type: ignore[misc]
    assert [(f.severity, f.kind, f.membership_id, f.what) for f in found] == [
        (
            ACTION,
            FAILED_WORK,
            "m1",
            f"collaboration trained models created by member {PARTNER}, paid by this account, "
            "failed: 1 in CREATE_FAILED",
        )
    ]


def test_two_observing_accounts_sum_once_with_max_by_collaboration() -> None:
    """The same collaboration listed through two configured accounts, as docs/collectors.md
    says to aggregate: max over the observers by collaboration, creator, payer and status."""
    other = "222222222222"
    aws = listing(model("x", "CREATE_FAILED", payer=other), model("y", "ACTIVE", payer=other))
    data = poll(aws)
    rows: list[tuple[dict[str, str], float]] = []
    for account in (US, other):
        for labels, value in samples(data, account)[KIND.counts_name].items():
            rows.append(({**dict(labels), "account_id": account}, value))
    by = ("collaboration_id", "creator_account_id", "payer_account_id", "status")
    summed: dict[tuple[str, ...], float] = {}
    maxed: dict[tuple[str, ...], float] = {}
    for labels, value in rows:
        key = tuple(labels[k] for k in by)
        summed[key] = summed.get(key, 0) + value
        maxed[key] = max(maxed.get(key, 0), value)
    failed_key = ("c1", PARTNER, other, "CREATE_FAILED")
    assert summed[failed_key] == 2  # a plain sum counts the model once per observer
    assert maxed[failed_key] == 1
    # Only the paying account sees it as "payer": a sum over that role is right as it is.
    paid = sum(v for labels, v in rows if labels["account_role"] == "payer")
    assert paid == 2  # x and y, each once
    assert {labels["account_id"] for labels, v in rows if labels["account_role"] == "payer"} == {
        other
    }


@pytest.mark.parametrize(
    ("creator", "payer", "part"),
    [
        (US, US, "creator_and_payer"),
        (US, PARTNER, "creator"),
        (US, "", "creator"),
        (PARTNER, US, "payer"),
        (PARTNER, PARTNER, "neither"),
        (PARTNER, "", "neither"),
    ],
)
def test_this_accounts_part(creator: str, payer: str, part: str) -> None:
    assert role(US, creator, payer) == part
    assert part in collaboration_listings.ROLES


def test_a_collaboration_no_longer_active_has_no_series() -> None:
    aws = listing(model("x", "ACTIVE"))
    data = poll(aws)
    gone = parent(collaboration("c2", "m2"))
    built = families(SPEC, [TargetData((US, "us-east-1"), data, gone)], OutputSettings())
    assert all(not f.samples for f in built)
