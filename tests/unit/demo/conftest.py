"""Clients of the fake for the demo's tests: a fresh account each, signed as the exporter signs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from exporter.demo.fake.service import FakeCleanRooms

REGION = "us-east-1"


@dataclass
class Caller:
    """One fresh account's clients of the fake, signed with keys moto issued for it."""

    account: str
    session: boto3.Session

    def client(self, service: str, url: str, region: str = REGION) -> Any:
        return self.session.client(service, endpoint_url=url, region_name=region)


@pytest.fixture
def caller(fake: FakeCleanRooms, new_account: Callable[[], str]) -> Caller:
    """A fresh account, so per-account lists hold only what the test seeds."""
    account = new_account()
    sts = boto3.client(
        "sts",
        region_name=REGION,
        endpoint_url=fake.url,  # signed for sts: the fake passes it on to moto
        aws_access_key_id="AKIAFAKE",
        aws_secret_access_key="fake",
    )
    role = f"arn:aws:iam::{account}:role/CleanRoomsReadOnly"
    credentials = sts.assume_role(RoleArn=role, RoleSessionName="fake-ml")["Credentials"]
    sts.close()
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    return Caller(account, session)


@pytest.fixture
def ml(fake: FakeCleanRooms, caller: Caller) -> Iterator[Any]:
    """A Clean Rooms ML client of the fake, closed after the test (no keep-alive left open)."""
    client = caller.client("cleanroomsml", fake.url)
    yield client
    client.close()


@pytest.fixture
def cleanrooms(fake: FakeCleanRooms, caller: Caller) -> Iterator[Any]:
    client = caller.client("cleanrooms", fake.url)
    yield client
    client.close()


def every_page(call: Callable[..., Any], key: str, **params: str) -> list[list[dict[str, Any]]]:
    """Each page of a List operation at maxResults=100, one call per page."""
    pages: list[list[dict[str, Any]]] = []
    token: dict[str, str] = {}
    while True:
        answer = call(maxResults=100, **params, **token)
        pages.append(answer[key])
        if "nextToken" not in answer:
            return pages
        token = {"nextToken": answer["nextToken"]}
