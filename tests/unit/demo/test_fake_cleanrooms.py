"""The fake of what moto lacks: every response fits botocore's model, and the check can fail."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from exporter.demo.fake.service import (
    FakeCleanRooms,
    Request,
    operation_for,
    operation_for_target,
    route_table,
)
from exporter.demo.fake.validate import validate_output
from tests.helpers import Seeder

GOOD = {
    "id": "0b6a4e1e-5b8a-4c57-9d3e-2f6d0c7a1b2c",
    "collaborationId": "1c7b5f2f-6c9b-4d68-8e4f-3a7e1d8b2c3d",
    "createTime": 1_700_000_000,
    "updateTime": 1_700_000_000,
    "status": "PENDING",
    "isAutoApproved": False,
    "changes": [
        {
            "specificationType": "MEMBER",
            "specification": {
                "member": {"accountId": "666666666666", "memberAbilities": ["CAN_QUERY"]}
            },
            "types": ["ADD_MEMBER"],
        }
    ],
}
KEY = "collaborationChangeRequestSummaries"


def problems(summary: dict[str, Any]) -> list[str]:
    return validate_output("ListCollaborationChangeRequests", {KEY: [summary]})


def test_a_real_shaped_response_validates() -> None:
    assert problems(GOOD) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"status": "WAITING"}, "is not one of"),
        ({"createTime": "2024-01-01"}, "expected epoch seconds"),
        ({"isAutoApproved": "no"}, "expected true or false"),
        ({"id": "short"}, "length 5 outside [36, 36]"),
        ({"changes": []}, "length 0 outside [1, 10]"),
        ({"surprise": 1}, "not a member of"),
        ({"changes": [{"types": ["ADD_MEMBER"]}]}, "required member missing"),
    ],
)
def test_every_kind_of_drift_is_caught(change: dict[str, Any], expected: str) -> None:
    found = problems({**GOOD, **change})
    assert any(expected in p for p in found), found


def test_a_missing_required_member_is_caught() -> None:
    broken = {k: v for k, v in GOOD.items() if k != "collaborationId"}
    assert problems(broken) == [
        f"ListCollaborationChangeRequests.{KEY}[0].collaborationId: required member missing"
    ]


def test_operations_are_routed_from_the_service_model() -> None:
    assert operation_for("GET", "/collaborations/abc/changeRequests?status=PENDING") == (
        "ListCollaborationChangeRequests",
        {"collaborationIdentifier": "abc"},
    )
    assert operation_for("GET", "/memberships") == ("ListMemberships", {})
    assert operation_for("POST", "/collaborations/abc/changeRequests") is not None
    assert operation_for("GET", "/nowhere") is None


def client(url: str) -> Any:
    return boto3.client(
        "cleanrooms",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="AKIAFAKE",
        aws_secret_access_key="fake",
    )


def test_botocore_reads_every_page_the_fake_sends(fake: FakeCleanRooms, seeder: Seeder) -> None:
    # Unknown keys are moto's default account: the fake looks the account up as moto does.
    account = "123456789012"
    collaboration = seeder.add(account, "us-east-1", "ACTIVE")
    for index in range(230):
        status = "PENDING" if index % 2 else "APPROVED"
        fake.change_requests.add(
            (account, "us-east-1", collaboration.id), time.time() - index, status
        )
    pages = (
        client(fake.url)
        .get_paginator("list_collaboration_change_requests")
        .paginate(
            collaborationIdentifier=collaboration.id,
            status="PENDING",
            PaginationConfig={"PageSize": 100},
        )
    )
    sizes = [len(page[KEY]) for page in pages]
    assert sizes == [100, 15]
    with pytest.raises(ClientError) as caught:
        client(fake.url).list_collaboration_change_requests(collaborationIdentifier="1" * 36)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # Operations the fake does not implement go to moto.
    assert client(fake.url).list_memberships()["membershipSummaries"] is not None


def test_a_response_off_the_model_is_never_sent(fake: FakeCleanRooms) -> None:
    def broken(request: Request) -> dict[str, Any]:
        return {KEY: [{**GOOD, "status": "X"}]}

    saved = fake.routes[("cleanrooms", "ListCollaborationChangeRequests")]
    fake.routes[("cleanrooms", "ListCollaborationChangeRequests")] = broken
    try:
        with pytest.raises(ClientError) as caught:
            client(fake.url).list_collaboration_change_requests(collaborationIdentifier="c" * 36)
    finally:
        fake.routes[("cleanrooms", "ListCollaborationChangeRequests")] = saved
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert any("is not one of" in v for v in fake.violations)
    fake.violations.clear()  # seen and asserted: the fixture's own check must not fail


def test_json_protocol_requests_are_routed_by_their_target_header() -> None:
    target = "ServiceQuotasV20190624.ListServiceQuotas"
    assert operation_for_target(target, "service-quotas") == "ListServiceQuotas"
    assert operation_for_target("Other.ListServiceQuotas", "service-quotas") is None
    assert operation_for_target("ServiceQuotasV20190624.Nope", "service-quotas") is None
    assert route_table("service-quotas") == []  # every operation is a POST to /
