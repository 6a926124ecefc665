"""The ``--shard.*`` flags: this replica's share of the accounts, over the config file's."""

from __future__ import annotations

import argparse
from dataclasses import replace

from exporter.config import Config


def add_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sharding")
    group.add_argument(
        "--shard.count",
        dest="shard_count",
        type=int,
        help="replicas sharing the accounts (overrides sharding.count; default 1)",
    )
    group.add_argument(
        "--shard.index",
        dest="shard_index",
        help="this replica's shard, 0-based, or auto for the StatefulSet pod ordinal "
        "(from POD_NAME or HOSTNAME; overrides sharding.index)",
    )


def with_shard_flags(config: Config, args: argparse.Namespace) -> Config:
    """Flags win over the config file, like Prometheus' own flags."""
    sharding = config.sharding
    if args.shard_count is not None:
        sharding = replace(sharding, count=args.shard_count)
    if args.shard_index is not None:
        index = args.shard_index
        sharding = replace(sharding, index=int(index) if index.isdigit() else index)
    return replace(config, sharding=sharding)
