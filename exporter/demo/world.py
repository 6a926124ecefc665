"""The demo's simulated Clean Rooms world, seeded and changed in moto's backends and the fake.

Each account gets a world of its own (counts and ages drawn per account), so
per-account graphs differ. Changes arrive every few seconds: invitations come and
are accepted, memberships end, partners leave collaborations, change requests wait
and are approved; every few seconds the ACTIVE memberships run protected queries and
jobs and spend their privacy budgets (``demo_analyses``).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from exporter.demo.analyses_sim import AnalysesActivity
from exporter.demo.fake.service import FakeCleanRooms
from exporter.demo.ml_sim import MlActivity
from exporter.demo.schemas_sim import SchemasActivity

log = logging.getLogger(__name__)

DEMO_ACCOUNTS = (
    ("111111111111", "prod", ("us-east-1", "eu-west-2")),
    ("222222222222", "analytics", ("us-east-1", "eu-west-2")),
    ("333333333333", "partner-sandbox", ("us-east-1",)),
)
TRUSTED = (("444444444444", "Trusted Retail Partner"), ("555555555555", "Measurement Co"))
UNTRUSTED = (("999999999999", "Unknown Data Broker"),)
PARTNERS = (*TRUSTED, ("777777777777", "Media Network"), ("888888888888", "Loyalty Program"))
ENGINES = ("CLEAN_ROOMS_SQL", "SPARK")  # every target has collaborations on each
DAY = 86400.0
HOUR = 3600.0
# One change every few seconds, in this order: each kind within a minute.
_KINDS = ("invite", "leave", "file", "accept", "approve", "leave", "end", "file", "approve")


def _backend(account_id: str, region: str) -> Any:
    from moto.cleanrooms.models import cleanrooms_backends  # noqa: PLC0415 (demo extra)

    return cleanrooms_backends[account_id][region]


def _member(account: tuple[str, str], status: str, created: float, payer: bool) -> dict[str, Any]:
    """A MemberSummary as the API sends it."""
    return {
        "accountId": account[0],
        "status": status,
        "displayName": account[1],
        "abilities": ["CAN_QUERY"] if payer else ["CAN_RECEIVE_RESULTS"],
        "createTime": created,
        "updateTime": created,
        "paymentConfiguration": {"queryCompute": {"isResponsible": payer}},
    }


class Simulation:
    """Seeds and changes the demo world: moto's backends plus the fake's change requests."""

    def __init__(
        self,
        rng: random.Random,
        clock: Callable[[], float] = time.time,
        fake: FakeCleanRooms | None = None,
    ) -> None:
        self._analyses = None if fake is None else AnalysesActivity(rng, clock, fake.analyses)
        self._ml = None if fake is None else MlActivity(rng, clock, fake)
        self._schemas = None if fake is None else SchemasActivity(clock, fake.schemas)
        self._rng = rng
        self._clock = clock
        self._fake = fake
        self._counter = 0
        self._steps = 0

    def targets(self) -> list[tuple[str, str]]:
        return [(a, r) for a, _, regions in DEMO_ACCOUNTS for r in regions]

    def seed(self) -> None:
        """Every target: all statuses, invitations of many ages, its own counts and ages."""
        for account_id, region in self.targets():
            self._seed_target(account_id, region)
        if self._fake is not None:  # the first account was granted more: source="applied"
            prod = (DEMO_ACCOUNTS[0][0], "us-east-1")
            self._fake.service_quotas.apply(prod, "Concurrent SQL queries per account", 10)
            self._fake.service_quotas.apply(
                prod, "Concurrent PySpark job vCPU usage per account", 2048
            )

    def _seed_target(self, account_id: str, region: str) -> None:
        now, rng = self._clock(), self._rng
        plan = [("ACTIVE", rng.randint(2, 5)), ("LEFT", rng.randint(0, 2))]
        plan += [("REMOVED", rng.randint(1, 2)), ("INVITED", rng.randint(1, 4))]
        for status, count in plan:
            for _ in range(count):
                age = rng.uniform(0.05, 9) if status == "INVITED" else rng.uniform(10, 90)
                creator = rng.choice(TRUSTED + UNTRUSTED * (status == "INVITED"))
                self.add(account_id, region, status, creator, now - age * DAY)
        deleted = self.add(account_id, region, "ACTIVE", rng.choice(TRUSTED), now - 120 * DAY)
        self.delete_collaboration(account_id, region, deleted)
        if self._analyses is not None:
            self._analyses.seed(account_id, region, self._active(account_id, region))
        if self._ml is not None:
            self._ml.seed(account_id, region, self._active(account_id, region))
        if self._schemas is not None:
            self._schemas.seed(account_id, region, self._active(account_id, region))

    def _active(self, account_id: str, region: str) -> list[Any]:
        """The target's ACTIVE collaborations with a membership, in creation order."""
        found = _backend(account_id, region).collaborations.values()
        return [c for c in found if c.member_status == "ACTIVE" and c.membership_id]

    def analyses_step(self) -> str:
        """Queries and jobs of every ACTIVE membership move on; budgets are spent."""
        if self._analyses is None:
            return "no change"
        memberships = [
            ((account_id, region, c.membership_id), c.id)
            for account_id, region in self.targets()
            for c in self._active(account_id, region)
        ]
        finished = self._analyses.step(memberships)
        if self._ml is not None:
            self._ml.step()
        return f"{finished} protected queries succeeded in {len(memberships)} memberships"

    def run_analyses(self, stop: threading.Event, tick: float = 5.0) -> None:
        """Move the analyses on every ``tick`` seconds until ``stop`` is set."""
        while not stop.wait(tick):
            log.debug("demo: %s", self.analyses_step())

    def add(
        self, account_id: str, region: str, status: str, creator: tuple[str, str], created: float
    ) -> Any:
        self._counter += 1
        collaboration = _backend(account_id, region).create_collaboration(
            name=f"{creator[1]} x {account_id[-4:]} #{self._counter}",
            description="demo collaboration",
            creator_display_name=creator[1],
            creator_member_abilities=[],
            query_log_status="DISABLED",
            members=[],
            data_encryption_metadata=None,
            analytics_engine=ENGINES[self._counter % 2],
            tags=None,
        )
        collaboration.creator_account_id = creator[0]
        collaboration.create_time = created
        collaboration.update_time = created
        self._install_members(account_id, collaboration, creator, created)
        if status != "INVITED":
            self.join(account_id, region, collaboration)
            if status != "ACTIVE":
                self.end_membership(account_id, region, collaboration, status)
        return collaboration

    def _install_members(
        self, account_id: str, collaboration: Any, creator: tuple[str, str], created: float
    ) -> None:
        """Partners of the collaboration: the creator and a few others, mostly ACTIVE."""
        others = [p for p in PARTNERS if p[0] != creator[0]]
        partners = [creator, *self._rng.sample(others, self._rng.randint(1, 3))]
        members = [_member(p, "ACTIVE", created, p is creator) for p in partners]
        if self._rng.random() < 0.3:
            members[-1]["status"] = self._rng.choice(("INVITED", "LEFT"))
        collaboration.demo_members = members

        def summaries() -> list[dict[str, Any]]:
            own = _member((account_id, "This account"), collaboration.member_status, created, False)
            return [own, *collaboration.demo_members]

        # moto lists every invited member as INVITED; the demo wants real statuses.
        collaboration.member_summaries = summaries

    def join(self, account_id: str, region: str, collaboration: Any) -> Any:
        """Accept the invitation: a real moto membership, who pays for queries at random."""
        payer = self._rng.random() < 0.5
        membership = _backend(account_id, region).create_membership(
            collaboration_identifier=collaboration.id,
            query_log_status="DISABLED",
            payment_configuration={"queryCompute": {"isResponsible": payer}},
            default_result_configuration=None,
            tags=None,
        )
        membership.create_time = collaboration.create_time
        collaboration.update_time = self._clock()
        if self._fake is not None and self._rng.random() < 0.4:
            age = self._rng.choice((2 * HOUR, 30 * HOUR))
            self._fake.change_requests.add(
                (account_id, region, collaboration.id), self._clock() - age
            )
        return membership

    def end_membership(self, account_id: str, region: str, collaboration: Any, status: str) -> None:
        """This account left (LEFT) or was removed (REMOVED) from the collaboration."""
        membership = _backend(account_id, region).memberships[collaboration.membership_id]
        membership.status = "REMOVED"
        collaboration.member_status = status
        collaboration.update_time = membership.update_time = self._clock()

    def delete_collaboration(self, account_id: str, region: str, collaboration: Any) -> None:
        backend = _backend(account_id, region)
        backend.memberships[collaboration.membership_id].status = "COLLABORATION_DELETED"
        del backend.collaborations[collaboration.id]

    def step(self) -> str:
        """The next change, in a fixed rotation so every kind shows up within a minute."""
        kind = _KINDS[self._steps % len(_KINDS)]
        self._steps += 1
        account_id, region = self._rng.choice(self.targets())
        active = [
            c
            for c in _backend(account_id, region).collaborations.values()
            if c.member_status == "ACTIVE"
        ]
        if kind in ("invite", "accept", "end"):
            return self._membership_step(account_id, region, kind, active)
        if not active:
            return "no change"
        collaboration = self._rng.choice(active)
        if kind == "leave":
            return self._partner_leaves(collaboration)
        return self._change_request_step(account_id, region, collaboration, kind)

    def _membership_step(self, account_id: str, region: str, kind: str, active: list[Any]) -> str:
        """An invitation arrives or is accepted, or this account's membership ends."""
        where = f"in {account_id} {region}"
        backend = _backend(account_id, region)
        invited = [c for c in backend.collaborations.values() if c.member_status == "INVITED"]
        if kind == "invite" and len(invited) < 8:  # bounded, so a long demo stays readable
            creator = self._rng.choice(TRUSTED + UNTRUSTED)
            self.add(account_id, region, "INVITED", creator, self._clock())
            return f"new invitation {where}"
        if kind != "end" and invited:
            self.join(account_id, region, self._rng.choice(invited))
            return f"invitation accepted {where}"
        if kind == "end" and len(active) > 2:  # keep a few ACTIVE collaborations everywhere
            status = self._rng.choice(("LEFT", "REMOVED"))
            self.end_membership(account_id, region, self._rng.choice(active), status)
            return f"membership ended {where}"
        return "no change"

    def _partner_leaves(self, collaboration: Any) -> str:
        active = [m for m in collaboration.demo_members if m["status"] == "ACTIVE"]
        if len(active) < 2:  # keep the creator: a collaboration needs its owner
            return "no change"
        leaver = self._rng.choice(active[1:])
        leaver["status"] = self._rng.choice(("LEFT", "LEFT", "REMOVED"))
        leaver["updateTime"] = self._clock()
        return f"{leaver['displayName']} {leaver['status'].lower()} {collaboration.name}"

    def _change_request_step(
        self, account_id: str, region: str, collaboration: Any, kind: str
    ) -> str:
        """File a change request, or approve the oldest pending one of the target."""
        if self._fake is None:
            return "no change"
        if kind == "file":
            self._fake.change_requests.add((account_id, region, collaboration.id), self._clock())
            return f"change request filed in {collaboration.name}"
        # Approve somewhere, this target first: the demo shows an approval every rotation.
        targets = [(account_id, region), *self.targets()]
        for account, where in targets:
            for candidate in _backend(account, where).collaborations.values():
                key = (account, where, candidate.id)
                pending = self._fake.change_requests.pending(key)
                if pending and candidate.member_status == "ACTIVE":
                    self._fake.change_requests.set_status(
                        key, pending[0], "APPROVED", self._clock()
                    )
                    return f"change request approved in {candidate.name}"
        return "no change"

    def run(self, stop: threading.Event, every: float = 5.0) -> None:
        """Change the world every ``every`` seconds until ``stop`` is set."""
        while not stop.wait(every):
            log.info("demo: %s", self.step())
