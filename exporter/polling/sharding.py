"""Split accounts across replicas, and a replica's across its poll workers, by rendezvous hashing.

Each replica keeps the accounts whose highest-scoring shard is its own index.
Every account lands on exactly one shard, and going from N to N+1 shards moves
only the accounts the new shard wins (about 1/(N+1) of them), never between old
shards. All regions of an account stay together, so one replica assumes its role.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from exporter.core.model import TargetKey

V = TypeVar("V")

_ORDINAL = re.compile(r"-(\d+)$")


def _score(account_id: str, shard: int) -> int:
    digest = hashlib.sha256(f"{account_id}/{shard}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def shard_of(account_id: str, count: int) -> int:
    """The shard (0..count-1) that owns ``account_id``."""
    return max(range(count), key=lambda shard: _score(account_id, shard))


def worker_of(account_id: str, count: int) -> int:
    """The poll worker process (0..count-1) of a replica that owns ``account_id``.

    Salted apart from the replica's own shard: with the same scores, every account a
    replica owns would go to the same worker.
    """
    return max(range(count), key=lambda index: _score(f"worker/{account_id}", index))


def split_targets(targets: Mapping[TargetKey, V], count: int) -> list[dict[TargetKey, V]]:
    """``targets`` by the worker that owns each one's account."""
    shares: list[dict[TargetKey, V]] = [{} for _ in range(count)]
    for key, value in targets.items():
        shares[worker_of(key[0], count)][key] = value
    return shares


def worker_concurrency(total: int, count: int) -> int:
    """``concurrency`` is the whole exporter's: each worker takes its share, at least 1."""
    return max(1, -(-total // count))


@dataclass(frozen=True)
class Shard:
    """This replica's place: ``index`` of ``count``."""

    index: int = 0
    count: int = 1

    def owns(self, account_id: str) -> bool:
        return self.count == 1 or shard_of(account_id, self.count) == self.index


def pod_ordinal(env: Mapping[str, str]) -> int | None:
    """The StatefulSet ordinal at the end of POD_NAME (or HOSTNAME): ``exporter-2`` -> 2."""
    for name in ("POD_NAME", "HOSTNAME"):
        match = _ORDINAL.search(env.get(name, ""))
        if match:
            return int(match.group(1))
    return None


def resolve_shard(index: str | int, count: int, env: Mapping[str, str]) -> Shard:
    """Turn the configured index (a number or ``auto``) into a Shard; ValueError if impossible."""
    if count < 1:
        raise ValueError(f"shard count must be at least 1, got {count}")
    if index == "auto":
        ordinal = pod_ordinal(env)
        if ordinal is None:
            raise ValueError(
                "shard index auto: no trailing ordinal in POD_NAME or HOSTNAME "
                "(expected a StatefulSet pod name such as cleanrooms-exporter-2)"
            )
        index = ordinal
    if isinstance(index, str):
        if not index.isdigit():
            raise ValueError(f"shard index must be a number or auto, got {index!r}")
        index = int(index)
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} is outside 0..{count - 1}")
    return Shard(index, count)
