"""What the exporter says when it polls no target: why, so nobody has to guess."""

from __future__ import annotations

import pytest

from exporter.app import App, no_target_reasons
from exporter.config import parse_config
from exporter.core.model import DiscoveryStatus
from exporter.polling.sharding import Shard, shard_of

WHOLE = Shard()


def account_on_shard(shard: int, count: int) -> str:
    return next(a for a in (f"{n:012d}" for n in range(1, 100)) if shard_of(a, count) == shard)


@pytest.mark.parametrize(
    ("situation", "reasons"),
    [
        (
            {"waiting": 1},
            ["1 account waits for sts:GetCallerIdentity to tell its id"],
        ),
        (
            {"waiting": 3},
            ["3 accounts wait for sts:GetCallerIdentity to tell its id"],
        ),
        (
            {"discovery": DiscoveryStatus(), "discovering": True},
            ["discovery of the organization's accounts is still running"],
        ),
        (
            {"discovery": DiscoveryStatus(up=True, runs=1)},
            ["discovery found no ACTIVE account"],
        ),
        (
            {"discovery": DiscoveryStatus(up=False, runs=1, failures=1)},
            ["discovery failed (cleanrooms_discovery_up)"],
        ),
        (
            {"known": 4, "shard": Shard(2, 3)},
            ["shard 2 of 3 owns none of the 4 accounts"],
        ),
        ({}, ["no accounts configured"]),
        (
            {"waiting": 1, "known": 1, "shard": Shard(1, 2)},
            [
                "1 account waits for sts:GetCallerIdentity to tell its id",
                "shard 1 of 2 owns none of the 1 account",
            ],
        ),
    ],
)
def test_each_reason_for_no_target(situation: dict[str, object], reasons: list[str]) -> None:
    given: dict[str, object] = {
        "waiting": 0,
        "discovery": None,
        "discovering": False,
        "known": 0,
        "shard": WHOLE,
    }
    assert no_target_reasons(**(given | situation)) == reasons  # type: ignore[arg-type]


def summary(text: str) -> str:
    app = App(parse_config(text, {}))  # makes no AWS call; nothing is started
    return app.polling_summary()


def test_all_accounts_sharded_away() -> None:
    account = account_on_shard(0, 2)
    text = (
        f"accounts: [{{role_arn: 'arn:aws:iam::{account}:role/R'}}]\n"
        "sharding: {index: 1, count: 2}\n"
    )
    assert summary(text) == (
        "polling 0 targets every 300s: shard 1 of 2 owns none of the 1 account"
    )
    assert summary(text.replace("index: 1", "index: 0")) == "polling 1 targets every 300s"


def test_an_account_whose_id_sts_has_not_told_yet() -> None:
    assert summary("") == (
        "polling 0 targets every 300s: 1 account waits for sts:GetCallerIdentity to tell its id"
    )


def test_discovery_not_run_yet() -> None:
    text = "accounts: []\ndiscovery: {organizations: {}}\n"
    assert summary(text) == (
        "polling 0 targets every 300s: discovery of the organization's accounts is still running"
    )
