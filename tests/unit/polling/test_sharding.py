"""Scale-out features: sharding, the client-side rate limit, and Organizations discovery."""

from __future__ import annotations

import pytest

from exporter.app import App
from exporter.aws.ratelimit import TokenBucket
from exporter.config import ConfigError, parse_config
from exporter.polling.sharding import Shard, pod_ordinal, resolve_shard, shard_of

ACCOUNTS = [f"{700000000000 + i * 7919:012d}" for i in range(3000)]
REGION = "ap-southeast-2"  # no other test uses it, so moto's shared state stays apart


def test_every_account_on_exactly_one_shard() -> None:
    owners = {a: [i for i in range(3) if Shard(i, 3).owns(a)] for a in ACCOUNTS}
    assert all(len(shards) == 1 for shards in owners.values())
    sizes = [sum(1 for s in owners.values() if s == [i]) for i in range(3)]
    assert min(sizes) > 900  # roughly even: 1000 each


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_adding_a_shard_moves_only_accounts_to_the_new_shard(count: int) -> None:
    moved = [a for a in ACCOUNTS if shard_of(a, count) != shard_of(a, count + 1)]
    assert all(shard_of(a, count + 1) == count for a in moved)  # never between old shards
    share = len(moved) / len(ACCOUNTS)
    assert abs(share - 1 / (count + 1)) < 0.05


def test_shard_index_from_the_pod_name() -> None:
    assert pod_ordinal({"POD_NAME": "cleanrooms-exporter-2"}) == 2
    assert pod_ordinal({"HOSTNAME": "cleanrooms-exporter-11"}) == 11
    assert pod_ordinal({"HOSTNAME": "laptop"}) is None
    assert resolve_shard("auto", 3, {"POD_NAME": "x-1", "HOSTNAME": "x-2"}) == Shard(1, 3)
    assert resolve_shard("2", 3, {}) == Shard(2, 3)
    for bad in [("auto", 3, {"HOSTNAME": "laptop"}), (3, 3, {}), ("x", 2, {}), (0, 0, {})]:
        with pytest.raises(ValueError, match="shard"):
            resolve_shard(*bad)  # type: ignore[arg-type]


def test_bad_shard_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"sharding\.index"):
        parse_config("sharding: {index: 3, count: 3}", {})
    with pytest.raises(ConfigError, match="sharding: shard index auto"):
        App(parse_config("sharding: {index: auto, count: 2}", {}), env={"HOSTNAME": "laptop"})


def test_token_bucket_spaces_requests() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(rate=2.0, burst=2, clock=lambda: now[0], sleep=sleep)
    waits = [bucket.acquire() for _ in range(5)]
    assert waits == [0.0, 0.0, 0.5, 0.5, 0.5]  # the burst, then one every half second
    now[0] += 10  # idle: the bucket refills to its burst, no further
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.5]
