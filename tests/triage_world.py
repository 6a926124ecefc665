"""A generated organisation for the status page: 300 targets of 5 ACTIVE memberships each.

1,500 memberships, as in docs/large-organisations.md's scale, with something to say about
many of them: failed and queued analyses, exhausted and low budgets, tables that cannot be
queried or expire soon, stale audience models, untrusted invitations, failing targets and
a failing collector. Seeded, so every run builds the same state; built from the
collectors' own data classes, so /metrics and the page render it as they would a poll's.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from exporter.collectors import intermediate_tables, ml_audiences, protected_jobs, protected_queries
from exporter.collectors.budgets import Access, BudgetsData, MembershipBudgets, Period
from exporter.collectors.collaborations import Collaboration, count_statuses
from exporter.collectors.collaborations import PollData as Collaborations
from exporter.collectors.details import Details
from exporter.collectors.listings import Listed, ListingsData
from exporter.collectors.protected_analyses import AnalysesData, AnalysisKind, MembershipAnalyses
from exporter.collectors.status_counts import Item, Tally, tally
from exporter.config.collectors import CollectorSchedule
from exporter.core.model import CollectorState, PollError, Snapshot, Target, TargetKey
from exporter.metrics.scrape import ScrapeSettings

TARGETS = 300
MEMBERSHIPS = 5  # ACTIVE ones per target: 1,500 in all
REGIONS = ("us-east-1", "eu-west-2", "ap-southeast-2")
TRUSTED = "444444444444"
UNTRUSTED = "999999999999"
FAILING_TARGETS = 3  # their AssumeRole is denied: no data at all
FAILING_MEMBERS = 4  # targets where the members collector fails while the target is up
HOSTILE = "<script>alert('pwned')</script> & Partners"  # a collaboration's name, escaped
COLLECTORS = (  # besides collaborations, in registry order
    "members",
    "protected_queries",
    "protected_jobs",
    "privacy_budgets",
    "intermediate_tables",
    "ml_audiences",
)
DAY = 86400.0


@dataclass(frozen=True)
class Organisation:
    snapshot: Snapshot
    settings: ScrapeSettings
    trusted: tuple[str, ...]


def organisation(seed: int = 27, now: float | None = None) -> Organisation:
    """The snapshot, as fresh as a poll that just finished, and the settings that export it."""
    now = time.time() if now is None else now
    rng = random.Random(seed)
    primary: dict[TargetKey, CollectorState[Any]] = {}
    others: dict[str, dict[TargetKey, CollectorState[Any]]] = {n: {} for n in COLLECTORS}
    for i in range(TARGETS):
        target = Target(f"{100000000000 + i // 3:012d}", REGIONS[i % 3], f"team-{i // 3:03d}")
        if i < FAILING_TARGETS:
            error = PollError("AssumeRole", "AccessDenied", "not authorized to assume the role")
            primary[target.key] = _failed(target, error)
            continue
        collaborations = _collaborations(rng, target, i, now)
        primary[target.key] = _polled(target, collaborations, now)
        for name, data in _fan_out(rng, target, collaborations, now).items():
            others[name][target.key] = _polled(target, data, now)
        if i < FAILING_TARGETS + FAILING_MEMBERS:
            error = PollError("ListMembers", "AccessDeniedException", "no ListMembers")
            others["members"][target.key] = _failed(target, error)
    snapshot = Snapshot(
        MappingProxyType(primary),
        MappingProxyType({k: MappingProxyType(v) for k, v in others.items()}),
        "collaborations",
    )
    schedules = tuple(CollectorSchedule(name, 300.0, 3600.0) for name in COLLECTORS)
    settings = ScrapeSettings(3600.0, True, (TRUSTED,), schedules)
    return Organisation(snapshot, settings, (TRUSTED,))


def _polled(target: Target, data: Any, now: float) -> CollectorState[Any]:
    return CollectorState(
        target,
        data,
        up=True,
        polled=True,
        polls=1,
        last_success=now,
        last_success_monotonic=time.monotonic(),
    )


def _failed(target: Target, error: PollError) -> CollectorState[Any]:
    """A collector that never polled the target successfully: no data, its error."""
    return CollectorState(
        target, None, polled=True, polls=3, failures=3, consecutive_failures=3, last_error=error
    )


def _fan_out(
    rng: random.Random, target: Target, collaborations: Collaborations, now: float
) -> dict[str, Any]:
    active = [c for c in collaborations.collaborations if c.member_status == "ACTIVE"]
    return {
        "protected_queries": _analyses(rng, protected_queries.KIND, active, now),
        "protected_jobs": _analyses(rng, protected_jobs.KIND, active, now),
        "privacy_budgets": _budgets(rng, target, active, now),
        "intermediate_tables": _tables(rng, active, now),
        "ml_audiences": _audiences(rng, now),
    }


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _collaborations(rng: random.Random, target: Target, index: int, now: float) -> Collaborations:
    found = []
    for n in range(MEMBERSHIPS + 3):
        status = "ACTIVE" if n < MEMBERSHIPS else ("INVITED", "INVITED", "LEFT")[n - MEMBERSHIPS]
        creator = TRUSTED if status != "INVITED" or rng.random() < 0.6 else UNTRUSTED
        name = f"{('Retail', 'Media', 'Bank', 'Insurer')[n % 4]} x {target.account_name} #{n}"
        if index == FAILING_TARGETS and n == 0:
            name = HOSTILE
        created = now - rng.uniform(0.1, 30) * DAY
        found.append(
            Collaboration(
                _id(rng),
                name,
                creator,
                f"Creator {creator[:3]}",
                status,
                _id(rng) if status == "ACTIVE" else "",
                created,
                created,
            )
        )
    collaborations = tuple(found)
    oldest = min((c.create_time for c in found if c.member_status == "INVITED"), default=None)
    return Collaborations(collaborations, count_statuses(found, None), oldest, pages=1)


def _analyses(
    rng: random.Random, kind: AnalysisKind, active: list[Collaboration], now: float
) -> AnalysesData:
    memberships = {}
    for c in active:
        counts = dict.fromkeys(kind.rules.statuses, 0)
        counts["SUCCESS"] = rng.randint(5, 40)
        if rng.random() < 0.1:
            counts["FAILED"] = rng.randint(1, 4)
        if c.name == HOSTILE:  # the worst of all: its name leads the page's findings
            counts["FAILED"] = 50
        if rng.random() < 0.05:
            counts["TIMED_OUT"] = rng.randint(1, 2)
        if rng.random() < 0.06:  # at the quota, some waiting
            counts["STARTED"], counts["SUBMITTED"] = kind.membership_limit, rng.randint(0, 3)
        else:
            counts["STARTED"] = rng.randint(0, kind.membership_limit - 1)
        running = counts["STARTED"] + counts["SUBMITTED"]
        recent = tuple((now - 600.0 * n, rng.uniform(0.1, 9.0)) for n in range(rng.randint(0, 3)))
        found = Tally(
            MappingProxyType(counts),
            now - 900 if running else None,
            running,
            MappingProxyType(dict.fromkeys(kind.rules.once, 0)),
            MappingProxyType({}),
            now - DAY,
        )
        memberships[c.id] = MembershipAnalyses(
            c.membership_id, found, details=Details(recent=recent)
        )
    return AnalysesData(MappingProxyType(memberships))


def _budgets(
    rng: random.Random, target: Target, active: list[Collaboration], now: float
) -> BudgetsData:
    memberships = {}
    for c in active:
        arn = (
            f"arn:aws:cleanrooms:{target.region}:{target.account_id}:membership/"
            f"{c.membership_id}/configuredtableassociation/{_id(rng)}"
        )
        roll = rng.random()
        limit = rng.choice((100, 500, 1000))
        remaining = 0 if roll < 0.03 else rng.randint(1, limit // 20) if roll < 0.12 else limit // 2
        period = Period("CALENDAR_DAY", limit, remaining)
        access = (Access(arn, (period,), remaining, now),)
        memberships[c.id] = MembershipBudgets(c.membership_id, None, access)
    return BudgetsData(MappingProxyType(memberships))


def _tables(rng: random.Random, active: list[Collaboration], now: float) -> ListingsData:
    tallies = {}
    for c in active:
        found = []
        for n in range(2):
            roll = rng.random()
            status = (
                "DISALLOWED_BY_DATA_PROVIDER"
                if roll < 0.03
                else "POPULATE_FAILED"
                if roll < 0.05
                else "POPULATE_SUCCESS"
            )
            # Some tables' data goes within the three days the page warns about.
            days = 7 if rng.random() < 0.05 else 30
            age = days - rng.uniform(0.5, 2.5) if days == 7 else rng.uniform(1, 10)
            updated = now - age * DAY
            summary = {
                "name": f"table_{n}",
                "retentionInDays": days,
                "updateTime": datetime.fromtimestamp(updated, UTC),
            }
            found.append(Item(_id(rng), status, updated, MappingProxyType(summary)))
        counted = tally(intermediate_tables.KIND.rules, found, None)
        tallies[c.id] = Listed(c.membership_id, counted, tuple(found))
    return ListingsData(MappingProxyType(tallies))


def _audiences(rng: random.Random, now: float) -> ml_audiences.AudiencesData:
    trained = now - (rng.uniform(8, 20) if rng.random() < 0.1 else 2) * DAY
    model = Item(_id(rng), "ACTIVE", trained, MappingProxyType({"name": "shoppers"}))
    models = Listed("", tally(ml_audiences.MODELS.rules, [model], None), (model,))
    empty = [Listed("", tally(kind.rules, [], None)) for kind in ml_audiences.KINDS[1:]]
    return ml_audiences.AudiencesData((models, *empty))
