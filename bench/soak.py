"""Soak: hundreds of polls while collaborations appear, change status and disappear.

    python -m bench.soak                 # 400 polls per target (the documented run)
    python -m bench.soak --polls 40      # the CI smoke run

Checks that the exporter's memory stays flat (resident set size of its process,
late in the run against early in the run) and that, once the churn stops, the
exported collaboration series are exactly those moto holds: none outlives its
collaboration, none is missing.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import threading
import time

from moto.cleanrooms.models import cleanrooms_backends

from bench.common import exporter, fake_aws, role_config
from tests.faultproxy import wait_for
from tests.helpers import Seeder

REGIONS = ["us-east-1", "eu-west-2"]
INFO = re.compile(
    r'^cleanrooms_collaboration_info\{account_id="(\d+)",(?:analytics_engine="[^"]*",)?'
    r'collaboration_id="([^"]+)",'
    r'.*member_status="([A-Z]+)".*region="([a-z0-9-]+)"\} 1\.0$',
    re.M,
)


class Churn:
    """Random changes to moto's collaborations, population kept around ``size`` per target."""

    def __init__(self, targets: list[tuple[str, str]], size: int, seed: int) -> None:
        self.targets = targets
        self.size = size
        self.rng = random.Random(seed)
        self.seeder = Seeder()
        self.changes = 0

    def step(self) -> None:
        account, region = self.rng.choice(self.targets)
        collaborations = cleanrooms_backends[account][region].collaborations
        existing = list(collaborations.values())
        roll = self.rng.random()
        if len(existing) < self.size * roll * 2:
            self.seeder.add(account, region, "INVITED", age=self.rng.uniform(0, 5e5))
        elif roll < 0.5 and existing:
            victim = self.rng.choice(existing)
            victim.member_status = self.rng.choice(["ACTIVE", "LEFT", "REMOVED"])
        elif existing:
            collaborations.pop(self.rng.choice(existing).id, None)
        self.changes += 1

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(0.005):
            self.step()


def expected_series(targets: list[tuple[str, str]]) -> set[tuple[str, str, str, str]]:
    return {
        (account, c.id, c.member_status, region)
        for account, region in targets
        for c in list(cleanrooms_backends[account][region].collaborations.values())
    }


def polls(text: str) -> float:
    return sum(
        float(v) for v in re.findall(r"^cleanrooms_target_polls_total\{.*\} (\S+)$", text, re.M)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=400, help="polls per target")
    parser.add_argument("--accounts", type=int, default=2)
    parser.add_argument("--size", type=int, default=60, help="collaborations per target")
    args = parser.parse_args(argv)
    accounts = [f"{500000000000 + i}" for i in range(args.accounts)]
    targets = [(a, r) for a in accounts for r in REGIONS]
    with fake_aws() as proxy:
        churn = Churn(targets, args.size, seed=7)
        for _ in range(args.size * len(targets)):
            churn.step()
        config = role_config(proxy.url, accounts, REGIONS, poll_interval="100ms", stale_after="10s")
        with exporter(config) as running:
            stop = threading.Event()
            threading.Thread(target=churn.run, args=(stop,), daemon=True).start()
            rss: list[float] = []
            goal = args.polls * len(targets)
            began = time.monotonic()
            while polls(running.metrics()) < goal:
                rss.append(running.rss_mib())
                time.sleep(0.25)
            stop.set()
            settle = polls(running.metrics()) + 2 * len(targets)
            wait_for(lambda: polls(running.metrics()) >= settle, timeout=60)
            exported = set(INFO.findall(running.metrics()))
            expected = expected_series(targets)
            took = time.monotonic() - began
            done = polls(running.metrics())
    return report(args, targets, rss, exported, expected, churn.changes, done, took)


def report(
    args: argparse.Namespace,
    targets: list[tuple[str, str]],
    rss: list[float],
    exported: set[tuple[str, str, str, str]],
    expected: set[tuple[str, str, str, str]],
    changes: int,
    done: float,
    took: float,
) -> int:
    quarter = max(1, len(rss) // 4)
    early = statistics.median(rss[quarter : 2 * quarter] or rss)
    late = statistics.median(rss[-quarter:])
    flat = late <= early * 1.10 + 5
    outlived, missing = exported - expected, expected - exported
    print(f"soak: {len(targets)} targets, ~{args.size} collaborations each, poll_interval 100ms")
    print("| measure | value |")
    print("|---|---:|")
    print(f"| polls finished | {done:g} in {took:.0f}s |")
    print(f"| collaboration changes made | {changes} |")
    print(f"| RSS early (2nd quarter median) | {early:.1f} MiB |")
    print(f"| RSS late (last quarter median) | {late:.1f} MiB |")
    print(f"| ratio late/early | {late / early:.3f} |")
    print(f"| RSS peak | {max(rss):.1f} MiB |")
    print(f"| series exported after churn / in moto | {len(exported)} / {len(expected)} |")
    print(f"| series outliving their collaboration | {len(outlived)} |")
    print(f"| collaborations missing from the output | {len(missing)} |")
    print(f"memory {'flat' if flat else 'GROWING'}")
    return 0 if flat and not outlived and not missing else 1


if __name__ == "__main__":
    sys.exit(main())
