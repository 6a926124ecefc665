"""The embedded simulated Clean Rooms behind ``--demo``: moto on loopback, seeded and changing.

A small proxy in front of moto throttles a few requests with a real HTTP 429,
so the throttle and error panels have something to show.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exporter.config import AccountConfig, AwsSettings, Config

log = logging.getLogger(__name__)

DEMO_ACCOUNTS = (
    ("111111111111", "prod", ("us-east-1", "eu-west-2")),
    ("222222222222", "analytics", ("us-east-1", "eu-west-2")),
    ("333333333333", "partner-sandbox", ("us-east-1",)),
)
TRUSTED = (("444444444444", "Trusted Retail Partner"), ("555555555555", "Measurement Co"))
UNTRUSTED = (("999999999999", "Unknown Data Broker"),)
DAY = 86400.0


@dataclass
class DemoWorld:
    """A running simulation: its endpoint and the knobs tests turn."""

    endpoint_url: str
    moto: Any
    proxy: ThreadingHTTPServer
    throttle_ratio: float

    def stop(self) -> None:
        self.proxy.shutdown()
        self.moto.stop()


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
        accounts=accounts,
    )


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
    """Start moto and the throttling proxy on loopback ports and seed every demo target."""
    # moto is the optional demo extra: import it only when the demo runs.
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    proxy = _ThrottlingProxy(("127.0.0.1", 0), (host, port), throttle_ratio, random.Random(seed))
    threading.Thread(target=proxy.serve_forever, name="demo-proxy", daemon=True).start()
    world = DemoWorld(f"http://127.0.0.1:{proxy.server_address[1]}", moto, proxy, throttle_ratio)
    Simulation(random.Random(seed)).seed()
    return world


class Simulation:
    """Seeds and changes collaborations directly in moto's in-process backends."""

    def __init__(self, rng: random.Random, clock: Any = time.time) -> None:
        self._rng = rng
        self._clock = clock
        self._counter = 0

    @staticmethod
    def _backend(account_id: str, region: str) -> Any:
        from moto.cleanrooms.models import cleanrooms_backends  # noqa: PLC0415

        return cleanrooms_backends[account_id][region]

    def targets(self) -> list[tuple[str, str]]:
        return [(a, r) for a, _, regions in DEMO_ACCOUNTS for r in regions]

    def seed(self) -> None:
        """Every target gets collaborations in all four statuses and invitations of many ages."""
        now = self._clock()
        for account_id, region in self.targets():
            for age_days, status in (
                (40, "ACTIVE"),
                (25, "ACTIVE"),
                (12, "ACTIVE"),
                (30, "LEFT"),
                (60, "REMOVED"),
                (6, "INVITED"),
                (1.5, "INVITED"),
                (0.1, "INVITED"),
            ):
                creator = self._rng.choice(TRUSTED + UNTRUSTED * (status == "INVITED"))
                self.add(account_id, region, status, creator, now - age_days * DAY)

    def add(
        self, account_id: str, region: str, status: str, creator: tuple[str, str], created: float
    ) -> Any:
        self._counter += 1
        collaboration = self._backend(account_id, region).create_collaboration(
            name=f"{creator[1]} x {account_id[-4:]} #{self._counter}",
            description="demo collaboration",
            creator_display_name=creator[1],
            creator_member_abilities=[],
            query_log_status="DISABLED",
            members=[],
            data_encryption_metadata=None,
            analytics_engine=None,
            tags=None,
        )
        collaboration.creator_account_id = creator[0]
        collaboration.create_time = created
        collaboration.update_time = created
        if status != "INVITED":
            self.set_status(collaboration, status)
        return collaboration

    def set_status(self, collaboration: Any, status: str) -> None:
        collaboration.member_status = status
        collaboration.update_time = self._clock()
        if status == "ACTIVE":
            collaboration.membership_id = f"{self._rng.getrandbits(128):032x}"

    def step(self) -> str:
        """One random change: an invitation arrives, is accepted, a member leaves or is removed."""
        account_id, region = self._rng.choice(self.targets())
        collaborations = list(self._backend(account_id, region).collaborations.values())
        by_status = {
            s: [c for c in collaborations if c.member_status == s] for s in ("INVITED", "ACTIVE")
        }
        roll = self._rng.random()
        if roll < 0.4 or not by_status["INVITED"]:
            creator = self._rng.choice(TRUSTED + UNTRUSTED)
            self.add(account_id, region, "INVITED", creator, self._clock())
            return f"new invitation in {account_id} {region}"
        if roll < 0.75:
            self.set_status(self._rng.choice(by_status["INVITED"]), "ACTIVE")
            return f"invitation accepted in {account_id} {region}"
        if by_status["ACTIVE"]:
            self.set_status(
                self._rng.choice(by_status["ACTIVE"]), self._rng.choice(("LEFT", "REMOVED"))
            )
            return f"membership ended in {account_id} {region}"
        return "no change"

    def run(self, stop: threading.Event, every: float = 20.0) -> None:
        """Change the world every ``every`` seconds until ``stop`` is set."""
        while not stop.wait(every):
            log.info("demo: %s", self.step())


class _ThrottlingProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        upstream: tuple[str, int],
        ratio: float,
        rng: random.Random,
    ) -> None:
        self.upstream = upstream
        self.ratio = ratio
        self.rng = rng
        self.lock = threading.Lock()
        super().__init__(address, _ProxyHandler)

    def throttle_now(self) -> bool:
        with self.lock:
            return self.rng.random() < self.ratio


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _ThrottlingProxy
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/collaborations") and self.server.throttle_now():
            payload = json.dumps({"message": "Rate exceeded"}).encode()
            self._reply(
                429,
                payload,
                {"x-amzn-ErrorType": "ThrottlingException", "Content-Type": "application/json"},
            )
            return
        conn = http.client.HTTPConnection(*self.server.upstream, timeout=30)
        try:
            conn.request(self.command, self.path, body, dict(self.headers))
            response = conn.getresponse()
            headers = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS}
            self._reply(response.status, response.read(), headers)
        finally:
            conn.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward  # noqa: N815

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("demo proxy: " + format, *args)


_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
