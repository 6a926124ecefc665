"""The embedded simulated Clean Rooms behind ``--demo``: moto and the fake on loopback.

Requests go to the fake of what moto lacks, which answers a few Clean Rooms requests
with a real HTTP 429 (so the throttle and error panels have something to show) and
passes what it does not implement to moto. The world itself is ``exporter.demo.world``.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exporter.collectors import REGISTRY
from exporter.config import AccountConfig, AwsSettings, Config
from exporter.config.collectors import CollectorConfig
from exporter.config.scale import RateLimit
from exporter.demo.analyses_sim import HISTORY as DEMO_LOOKBACK
from exporter.demo.fake.service import FakeCleanRooms
from exporter.demo.world import DEMO_ACCOUNTS, TRUSTED, Simulation

log = logging.getLogger(__name__)

__all__ = [
    "DemoWorld",
    "Simulation",
    "demo_config",
    "isolate_credentials",
    "start_changes",
    "start_world",
]


@dataclass
class DemoWorld:
    """A running simulation: its endpoint and the knobs tests turn."""

    endpoint_url: str
    moto: Any
    fake: FakeCleanRooms
    throttle_ratio: float
    # The simulation that seeded the world keeps what is due to finish or fail: the same
    # one must run the changes, or the seeded work never moves on.
    simulation: Simulation

    def stop(self) -> None:
        self.fake.close()
        self.moto.stop()

    def start_changes(self) -> None:
        """Let the world change as it runs (``start_changes``)."""
        start_changes(self)


def demo_config(endpoint_url: str, poll_interval: float = 15.0) -> Config:
    """The configuration the demo runs with: role ARNs into the simulated accounts."""
    accounts = tuple(
        AccountConfig(
            id=account_id,
            name=name,
            role_arn=f"arn:aws:iam::{account_id}:role/CleanRoomsReadOnly",
            external_id="demo-external-id-not-a-secret",
            regions=regions,
        )
        for account_id, name, regions in DEMO_ACCOUNTS
    )
    return Config(
        poll_interval=poll_interval,
        stale_after=max(120.0, poll_interval * 4),
        concurrency=4,
        regions=("us-east-1",),
        trusted_creator_accounts=tuple(a for a, _ in TRUSTED)
        + tuple(a for a, _, _ in DEMO_ACCOUNTS),
        aws=AwsSettings(endpoint_url=endpoint_url, max_attempts=3),
        # Every collector polls every membership on the demo's short interval: more calls
        # per target than the default 2 a second allow; at 20 a second the first round of
        # every collector is done in seconds. The simulated AWS has no quota.
        rate_limit=RateLimit(requests_per_second=20.0, burst=40),
        accounts=accounts,
        collectors=_every_collector(poll_interval),
    )


def _every_collector(poll_interval: float) -> tuple[CollectorConfig, ...]:
    """The demo shows everything: every collector, on the demo's poll interval.

    Its analyses look back two hours, as far as its simulated history goes, which keeps
    each membership's listing to a few pages however long the demo runs.
    """
    collectors = []
    for spec in REGISTRY:
        interval = None if spec.polling.primary else poll_interval
        options = tuple(
            (o.name, DEMO_LOOKBACK) for o in spec.polling.options if o.name == "lookback"
        )
        collectors.append(CollectorConfig(spec.name, True, interval, options=options))
    return tuple(collectors)


def isolate_credentials() -> None:
    """Point boto at fake keys so the demo never reads or sends real AWS credentials."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "AKIADEMODEMODEMODEMO",
            "AWS_SECRET_ACCESS_KEY": "demo-secret-access-key",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)


def start_world(throttle_ratio: float = 0.03, seed: int | None = None) -> DemoWorld:
    """Start moto and the fake in front of it on loopback; seed every demo target."""
    # moto is the optional demo extra: import it only when the demo runs.
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    fake = FakeCleanRooms(f"http://{host}:{port}")
    fake.throttle = _throttle(throttle_ratio, random.Random(seed))
    fake.start()
    simulation = Simulation(random.Random(seed), fake=fake)
    simulation.seed()
    return DemoWorld(fake.url, moto, fake, throttle_ratio, simulation)


def _throttle(ratio: float, rng: random.Random) -> Callable[[str], bool]:
    """Answer about ``ratio`` of Clean Rooms requests with a 429 (STS is never throttled)."""
    lock = threading.Lock()

    def throttle(path: str) -> bool:
        if not path.startswith(("/collaborations", "/memberships")):
            return False
        with lock:
            return rng.random() < ratio

    return throttle


def start_changes(world: DemoWorld) -> None:
    """Let the world change as it runs: invitations come and go, analyses run and fail."""
    stop = threading.Event()
    simulation = world.simulation
    threading.Thread(target=simulation.run, args=(stop,), name="demo-changes", daemon=True).start()
    threading.Thread(
        target=simulation.run_analyses, args=(stop,), name="demo-analyses", daemon=True
    ).start()
