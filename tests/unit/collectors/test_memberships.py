"""The memberships collector against moto: counts by status, info series, calls per poll."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest

from exporter.collectors.memberships import Membership, build, parse_summary


def test_malformed_summaries_are_skipped_and_counted() -> None:
    good = {
        "id": "m1",
        "collaborationId": "c1",
        "collaborationName": "n",
        "status": "ACTIVE",
        "paymentConfiguration": {"queryCompute": {"isResponsible": True}},
    }
    assert parse_summary(good) is not None
    broken = [
        None,
        {**good, "id": ""},
        {**good, "status": 3},
        {**good, "paymentConfiguration": {}},
        {**good, "paymentConfiguration": {"queryCompute": {"isResponsible": "yes"}}},
    ]
    data = build([good, *broken])
    assert data.invalid_items == len(broken)
    assert data.counts == {"ACTIVE": 1, "COLLABORATION_DELETED": 0, "REMOVED": 0}


def _reference_parse(item: Any) -> Membership | None:
    """The plain statement of what a valid summary is, for checking the collector's parse."""
    if not isinstance(item, Mapping):
        return None
    fields = ("id", "collaborationId", "collaborationName", "status")
    if not all(isinstance(item.get(k), str) and item.get(k) for k in fields):
        return None
    payment = item.get("paymentConfiguration")
    compute = payment.get("queryCompute") if isinstance(payment, Mapping) else None
    payer = compute.get("isResponsible") if isinstance(compute, Mapping) else None
    if not isinstance(payer, bool):
        return None
    return Membership(
        id=item["id"],
        collaboration_id=item["collaborationId"],
        collaboration_name=item["collaborationName"],
        status=item["status"],
        query_compute_payer=payer,
    )


class _Text(str):
    pass


def _variants() -> list[Any]:
    good = {
        "id": "m1",
        "collaborationId": "c1",
        "collaborationName": "n",
        "status": "ACTIVE",
        "paymentConfiguration": {"queryCompute": {"isResponsible": False}},
    }
    odd_values: list[Any] = [None, "", 0, 1, [], {}, b"x", _Text("t"), True]
    found: list[Any] = [good, MappingProxyType(good), ["m1"], "m1", None, 7]
    for key in ("id", "collaborationId", "collaborationName", "status", "paymentConfiguration"):
        found += [{**good, key: value} for value in odd_values]
        found.append({k: v for k, v in good.items() if k != key})
    for compute in [*odd_values, MappingProxyType({"isResponsible": True})]:
        found.append({**good, "paymentConfiguration": {"queryCompute": compute}})
        found.append({**good, "paymentConfiguration": MappingProxyType({"queryCompute": compute})})
    for payer in odd_values:
        found.append({**good, "paymentConfiguration": {"queryCompute": {"isResponsible": payer}}})
    return found


@pytest.mark.parametrize("item", _variants())
def test_parse_summary_agrees_with_the_plain_rules(item: Any) -> None:
    assert parse_summary(item) == _reference_parse(item)


def test_who_pays_for_what_is_one_info_series_per_membership() -> None:
    from exporter.collectors.base import TargetData
    from exporter.collectors.memberships import SPEC
    from exporter.core.series import OutputSettings
    from exporter.metrics.declared import families

    payment = {
        "queryCompute": {"isResponsible": False},
        "jobCompute": {"isResponsible": True},
        "machineLearning": {"modelTraining": {"isResponsible": True}},
    }
    item = {
        "id": "m1",
        "collaborationId": "c1",
        "collaborationName": "n",
        "status": "ACTIVE",
        "paymentConfiguration": payment,
    }
    data = build([item])
    (membership,) = data.memberships
    assert (membership.job_compute_payer, membership.ml_training_payer) == (True, True)
    assert membership.ml_inference_payer is False  # absent: this member does not pay
    fresh = [TargetData(("111111111111", "us-east-1"), data)]
    (info,) = [
        f
        for f in families(SPEC, fresh, OutputSettings())
        if f.name == "cleanrooms_membership_payment"
    ]
    (sample,) = info.samples
    assert sample.name == "cleanrooms_membership_payment_info"
    assert sample.labels == {
        "account_id": "111111111111",
        "region": "us-east-1",
        "membership_id": "m1",
        "collaboration_id": "c1",
        "query_compute": "false",
        "job_compute": "true",
        "ml_training": "true",
        "ml_inference": "false",
    }
