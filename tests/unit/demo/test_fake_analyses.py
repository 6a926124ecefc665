"""The fake's protected queries, jobs and privacy budgets: on the model, paged, newest first."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from exporter.demo.fake.analyses_store import QUERIES, table_arn
from exporter.demo.fake.service import FakeCleanRooms
from tests.helpers import Seeder

ACCOUNT = "123456789012"  # moto's default: the account of unknown access keys


@pytest.fixture
def cleanrooms(fake: FakeCleanRooms) -> Iterator[Any]:
    """A client of the fake, closed after the test so no keep-alive socket is left open."""
    client = boto3.client(
        "cleanrooms",
        region_name="us-east-1",
        endpoint_url=fake.url,
        aws_access_key_id="AKIAFAKE",
        aws_secret_access_key="fake",
    )
    yield client
    client.close()


def test_queries_and_jobs_come_newest_first_in_pages_and_filter_by_status(
    fake: FakeCleanRooms, seeder: Seeder, cleanrooms: Any
) -> None:
    membership = seeder.add(ACCOUNT, "us-east-1", "ACTIVE").membership_id
    key = (ACCOUNT, "us-east-1", membership)
    now = time.time()
    for index in range(150):
        fake.analyses.add_query(key, now - index, "SUCCESS" if index % 3 else "FAILED")
        fake.analyses.add_job(key, now - 2 * index, "STARTED")
    pages = list(
        cleanrooms.get_paginator("list_protected_queries").paginate(
            membershipIdentifier=membership, PaginationConfig={"PageSize": 100}
        )
    )
    assert [len(p["protectedQueries"]) for p in pages] == [100, 50]
    times = [q["createTime"] for p in pages for q in p["protectedQueries"]]
    assert times == sorted(times, reverse=True)
    failed = cleanrooms.list_protected_queries(membershipIdentifier=membership, status="FAILED")
    assert len(failed["protectedQueries"]) == 50
    assert {q["status"] for q in failed["protectedQueries"]} == {"FAILED"}
    jobs = cleanrooms.list_protected_jobs(membershipIdentifier=membership, maxResults=100)
    assert len(jobs["protectedJobs"]) == 100
    assert "nextToken" in jobs
    for operation in ("list_protected_queries", "list_protected_jobs"):
        with pytest.raises(ClientError) as caught:
            getattr(cleanrooms, operation)(membershipIdentifier="1" * 36)
        assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_privacy_budgets_by_type_and_resource(
    fake: FakeCleanRooms, seeder: Seeder, cleanrooms: Any
) -> None:
    collaboration = seeder.add(ACCOUNT, "us-east-1", "ACTIVE")
    membership = collaboration.membership_id
    key = (ACCOUNT, "us-east-1", membership)
    fake.analyses.add_differential_budget(key, collaboration.id, {"COUNT": (10, 3)}, when=1.0)
    arns = [
        table_arn(ACCOUNT, "us-east-1", membership, f"0f0f0f0f-0000-4000-8000-{i:012d}")
        for i in range(3)
    ]
    for arn in arns:
        fake.analyses.add_access_budget(
            key, collaboration.id, arn, [("CALENDAR_DAY", 100, 7), ("LIFETIME", 900, 5)], when=1.0
        )

    def listed(kind: str, **extra: str) -> list[dict[str, Any]]:
        answer = cleanrooms.list_privacy_budgets(
            membershipIdentifier=membership, privacyBudgetType=kind, **extra
        )
        summaries: list[dict[str, Any]] = answer["privacyBudgetSummaries"]
        return summaries

    (differential,) = listed("DIFFERENTIAL_PRIVACY")
    assert differential["budget"]["differentialPrivacy"]["aggregations"] == [
        {"type": "COUNT", "maxCount": 10, "remainingCount": 3}
    ]
    assert len(listed("ACCESS_BUDGET")) == 3
    (one,) = listed("ACCESS_BUDGET", accessBudgetResourceArn=arns[1])
    assert one["budget"]["accessBudget"]["aggregateRemainingBudget"] == 5
    with pytest.raises(ClientError) as caught:
        cleanrooms.list_privacy_budgets(
            membershipIdentifier="1" * 36, privacyBudgetType="ACCESS_BUDGET"
        )
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_query_off_the_model_is_never_sent(
    fake: FakeCleanRooms, seeder: Seeder, cleanrooms: Any
) -> None:
    membership = seeder.add(ACCOUNT, "us-east-1", "ACTIVE").membership_id
    key = (ACCOUNT, "us-east-1", membership)
    query = fake.analyses.add_query(key, time.time())
    fake.analyses.set_status(QUERIES, key, query, "RUNNING")  # not a ProtectedQueryStatus
    with pytest.raises(ClientError) as caught:
        cleanrooms.list_protected_queries(membershipIdentifier=membership)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert any("'RUNNING' is not one of" in v for v in fake.violations), fake.violations
    fake.violations.clear()  # seen and asserted: the fixture's own check must not fail
