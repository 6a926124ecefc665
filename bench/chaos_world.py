"""The AWS side of the chaos run: moto's accounts, organization and collaborations, and faults."""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.cleanrooms.models import cleanrooms_backends

from tests.faultproxy import FaultProxy, Reply, Seen
from tests.helpers import Seeder

REGIONS = ("us-east-1", "eu-west-2")
EXTERNAL_ID = "chaos-external-id-must-not-leak"
CORE_ACCOUNTS = 3  # always configured; rotating accounts come and go around them
# The fault matrix (README "Fault matrix"), as replies the proxy gives per account.
FAULTS: dict[str, tuple[str, Reply]] = {
    "throttle": ("ListCollaborations", Reply.aws_error(429, "ThrottlingException")),
    "throttle, empty body": ("ListCollaborations", Reply(429)),
    "500": ("ListCollaborations", Reply.aws_error(500, "InternalServerException")),
    "503, no body": ("ListCollaborations", Reply(503)),
    "502, HTML": ("ListCollaborations", Reply(502, b"<html>bad gateway</html>")),
    "dropped": ("ListCollaborations", Reply(action="drop")),
    "cut off": (
        "ListCollaborations",
        Reply(200, b'{"collaborationList": [{"id"', action="truncate"),
    ),
    "hang": ("ListCollaborations", Reply(action="hang")),
    "access denied": ("ListCollaborations", Reply.aws_error(403, "AccessDeniedException")),
    "invalid JSON": ("ListCollaborations", Reply(200, b"{not json")),
    "AssumeRole denied": ("AssumeRole", Reply.sts_error(403, "AccessDenied")),
}
BAD_CONFIGS: tuple[bytes, ...] = (
    b"accounts: [{role_arn: not-an-arn}]\n",
    b"poll_interval: soon\n",
    b"accounts: 7\n",
    b"[1, 2, 3]\n",
    b"key: [unclosed\n",
    b"\xff\xfe\x00 not utf-8\n",
    b"[" * 3000,
    b"aws: {endpoint_url: ${CHAOS_UNSET_VARIABLE}}\n",
)


@dataclass
class Faults:
    """Which account gets which fault now; one proxy rule reads it."""

    active: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    injected: int = 0

    def rule(self, seen: Seen) -> Reply | None:
        with self.lock:
            kind = self.active.get(seen.account_id or "")
        if kind is None:
            return None
        operation, reply = FAULTS[kind]
        return reply if seen.operation == operation else None

    def set(self, account: str, kind: str | None) -> None:
        with self.lock:
            if kind is None:
                self.active.pop(account, None)
            else:
                self.active[account] = kind
                self.injected += 1

    def clear(self) -> None:
        with self.lock:
            self.active.clear()


class World:
    """moto's state and the config file: what the exporter should be showing."""

    def __init__(self, proxy: FaultProxy, rng: random.Random, size: int, workers: int = 1) -> None:
        self.proxy = proxy
        self.workers = workers
        self.rng = rng
        self.size = size
        self.lock = threading.RLock()  # one change at a time; a checkpoint holds it to freeze all
        self.seeder = Seeder()
        self.faults = Faults()
        proxy.rules.append(self.faults.rule)
        self.org = boto3.client("organizations", region_name="us-east-1", endpoint_url=proxy.url)
        with contextlib.suppress(self.org.exceptions.AlreadyInOrganizationException):
            self.org.create_organization(FeatureSet="ALL")
        self.root = self.org.list_roots()["Roots"][0]["Id"]
        self.ou = self.org.create_organizational_unit(ParentId=self.root, Name="chaos")[
            "OrganizationalUnit"
        ]["Id"]
        self._next_static = 600000000000
        self.static = [self.new_static() for _ in range(CORE_ACCOUNTS + 2)]
        self.discovered: list[str] = []
        self.counts = {"collaborations removed": 0, "accounts discovered": 0}
        self.counts |= {"discovered accounts removed": 0, "collaboration changes": 0}
        for _ in range(2):
            self.discover_one()

    def new_static(self) -> str:
        self._next_static += 1
        account = str(self._next_static)
        self.seed(account)
        return account

    def seed(self, account: str) -> None:
        for region in REGIONS:
            for _ in range(self.size):
                status = self.rng.choice(("INVITED", "ACTIVE", "LEFT", "REMOVED"))
                self.seeder.add(account, region, status, age=self.rng.uniform(0, 5e5))

    def targets(self) -> list[tuple[str, str]]:
        return [(a, r) for a in [*self.static, *self.discovered] for r in REGIONS]

    def config_text(self, accounts: list[str] | None = None) -> str:
        lines = [
            "poll_interval: 1s",
            "stale_after: 30s",
            "concurrency: 8",
            f"poll_workers: {self.workers}",
            f"regions: [{', '.join(REGIONS)}]",
            f"aws: {{endpoint_url: '{self.proxy.url}', max_attempts: 2, read_timeout: 2s}}",
            "discovery:",
            "  organizations:",
            "    role_name: CleanRoomsReadOnly",
            f"    external_id: {EXTERNAL_ID}",
            f"    include_ous: [{self.ou}]",
            "    refresh_interval: 2s",
            "accounts:",
        ]
        for account in self.static if accounts is None else accounts:
            role = f"arn:aws:iam::{account}:role/CleanRoomsReadOnly"
            lines.append(f"  - {{role_arn: '{role}', external_id: {EXTERNAL_ID}}}")
        return "\n".join(lines) + "\n"

    def discover_one(self) -> str:
        made = self.org.create_account(Email=f"c{time.monotonic_ns()}@example.com", AccountName="c")
        account = str(made["CreateAccountStatus"]["AccountId"])
        self.seed(account)
        self.org.move_account(
            AccountId=account, SourceParentId=self.root, DestinationParentId=self.ou
        )
        self.discovered.append(account)
        self.counts["accounts discovered"] += 1
        return account

    def undiscover_one(self) -> str | None:
        if not self.discovered:
            return None
        account = self.discovered.pop(self.rng.randrange(len(self.discovered)))
        self.org.move_account(
            AccountId=account, SourceParentId=self.ou, DestinationParentId=self.root
        )
        self.faults.set(account, None)
        self.counts["discovered accounts removed"] += 1
        return account

    def churn(self) -> tuple[str, str, str] | None:
        """One change to one target's collaborations; returns a removed one's key."""
        account, region = self.rng.choice(self.targets())
        collaborations = cleanrooms_backends[account][region].collaborations
        existing = list(collaborations.values())
        roll = self.rng.random()
        self.counts["collaboration changes"] += 1
        if len(existing) < self.size * roll * 2:
            self.seeder.add(account, region, "INVITED", age=self.rng.uniform(0, 5e5))
        elif roll < 0.5 and existing:
            self.rng.choice(existing).member_status = self.rng.choice(["ACTIVE", "LEFT", "REMOVED"])
        elif existing:
            victim = self.rng.choice(existing)
            collaborations.pop(victim.id, None)
            self.counts["collaborations removed"] += 1
            return account, region, victim.id
        return None

    def truth(self) -> tuple[set[tuple[str, str, str, str]], set[tuple[str, str]]]:
        """(account, region, collaboration id, status) for every target, and the targets."""
        series = {
            (a, r, c.id, c.member_status)
            for a, r in self.targets()
            for c in list(cleanrooms_backends[a][r].collaborations.values())
        }
        return series, set(self.targets())


def write_atomically(path: Path, data: bytes) -> None:
    """A reload (a random SIGHUP included) must never read a half-written file."""
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def describe(value: Any) -> str:
    return " ".join(str(value).split())[:200]
