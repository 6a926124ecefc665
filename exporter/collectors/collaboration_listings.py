"""Collectors of one kind of Clean Rooms ML work listed collaboration-wide (every member's).

``ListCollaborationTrainedModels``, ``ListCollaborationTrainedModelInferenceJobs`` and
``ListCollaborationMLInputChannels`` list every member's work in a collaboration, not only
this account's: each summary names its creator (``creatorAccountId``) and, where AWS gives
it, the account that pays. Every member gets the same answer, so a collaboration that
several configured accounts belong to is listed once per account; each listing is counted
by status per (creator, payer) group with ``status_counts``, and every series says this
account's part in the work (``account_role``): sums over ``account_role="payer"`` count
each item once (one account pays), and collaboration-wide sums take the ``max`` over the
observing accounts (docs/collectors.md).

The failed counter is per role, not per creator: all four roles are exported at 0 from a
membership's first poll, so ``increase()`` sees a first failure (a series born at 1 it
would miss). The creating member is on the gauges and on the status page.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from types import MappingProxyType
from typing import Any

from exporter.collectors import collaborations
from exporter.collectors.base import (
    AgeSpec,
    Calls,
    CollectorSpec,
    PollContext,
    Polling,
    Probe,
    Rendering,
    Shown,
    TargetData,
)
from exporter.collectors.collaborations import (
    MEMBERSHIP_LABELS,
    Collaboration,
    active_only,
    each_membership,
)
from exporter.collectors.listings import ListedKind, sentence
from exporter.collectors.paging import list_all
from exporter.collectors.status_counts import (
    Item,
    StatusFamilies,
    Tally,
    parse_items,
    tally_groups,
)
from exporter.core.model import FAILED_WORK, FAILING, Finding, TargetKey
from exporter.core.series import Family, OutputSettings, Samples, counter, gauge, label

log = logging.getLogger(__name__)

Group = tuple[str, str]  # (creator_account_id, payer_account_id); "" when AWS names no payer
# This account's part in one item: it created it and pays, created it, pays for another
# member's, or neither. Every role is exported, at 0 when none.
ROLES = ("creator_and_payer", "creator", "payer", "neither")
GROUP_LABELS = (*MEMBERSHIP_LABELS, "creator_account_id", "payer_account_id", "account_role")


def role(account_id: str, creator: str, payer: str) -> str:
    """This account's part in work created by ``creator`` and paid by ``payer``."""
    if creator == account_id:
        return "creator_and_payer" if payer == account_id else "creator"
    return "payer" if payer == account_id else "neither"


@dataclass(frozen=True)
class SharedKind:
    """One collaboration-wide kind: its listing, and where its summaries name the payer."""

    kind: ListedKind  # its operation, statuses and names (counts, failed, oldest)
    payer: Callable[[Mapping[str, Any]], str]  # from the kept fields
    version_key: str = ""  # a member that tells versions of one ARN apart


@dataclass(frozen=True, slots=True)
class SharedListed:
    """One ACTIVE collaboration's items of one kind, tallied per (creator, payer)."""

    membership_id: str  # this account's, through which the collaboration was listed
    groups: Mapping[Group, Tally] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class SharedData:
    """One target's listings per ACTIVE collaboration id."""

    per_collaboration: Mapping[str, SharedListed] = field(
        default_factory=lambda: MappingProxyType({})
    )
    invalid_items: int = 0


def parse(shared: SharedKind, summaries: Iterable[Any]) -> tuple[dict[Group, list[Item]], int]:
    """Well-formed items by (creator, payer), and how many summaries were malformed."""
    kind = shared.kind
    items, invalid = parse_items(summaries, kind.id_key, kind.kept_fields)
    grouped: dict[Group, list[Item]] = defaultdict(list)
    for listed in items:
        creator = listed.fields.get("creatorAccountId")
        if not isinstance(creator, str) or not creator:
            invalid += 1
            continue
        grouped[(creator, shared.payer(listed.fields))].append(_versioned(listed, shared))
    return dict(grouped), invalid


def _versioned(item: Item, shared: SharedKind) -> Item:
    """Each version of a trained model is work of its own: its id names the version."""
    version = item.fields.get(shared.version_key) if shared.version_key else None
    if isinstance(version, str) and version:
        return replace(item, id=f"{item.id}#{version}")
    return item


def poll(shared: SharedKind, context: PollContext) -> SharedData:
    """One paged listing per ACTIVE collaboration, through this account's membership."""
    previous = context.previous if isinstance(context.previous, SharedData) else None
    kind, invalid = shared.kind, 0

    def fetch(collaboration: Collaboration, old: SharedListed | None) -> SharedListed:
        nonlocal invalid
        params = {"collaborationIdentifier": collaboration.id}
        summaries, _ = list_all(
            context.client, kind.operation, kind.list_key, params, context.max_pages
        )
        grouped, bad = parse(shared, summaries)
        invalid += bad
        groups = tally_groups(kind.rules, grouped, old.groups if old is not None else None)
        return SharedListed(collaboration.membership_id, MappingProxyType(groups))

    earlier = previous.per_collaboration if previous is not None else {}
    listed = each_membership(context, kind.operation, earlier, fetch)
    if invalid:
        log.warning("skipped %d malformed %s summaries", invalid, kind.noun)
    return SharedData(MappingProxyType(listed), invalid)


@dataclass(frozen=True)
class SharedFamilies:
    """Counts by status per group, and the failed counter per role."""

    statuses: StatusFamilies
    failed: Family

    @property
    def families(self) -> tuple[Family, ...]:
        return (*self.statuses.families, self.failed)


def shared_families(kind: ListedKind) -> SharedFamilies:
    noun = sentence(kind.noun)
    counts = gauge(
        kind.counts_name,
        f"{noun} of every member of each ACTIVE collaboration, by creator, payer (empty when "
        "AWS names none), this account's part (account_role) and status.",
        *GROUP_LABELS,
        "status",
    )
    failed = counter(
        kind.failed_name,
        f"{noun} of each ACTIVE collaboration seen failed ({', '.join(kind.rules.once)}), "
        "each counted once, by this account's part; from 0 when the exporter starts "
        "watching a membership.",
        *MEMBERSHIP_LABELS,
        "account_role",
    )
    return SharedFamilies(StatusFamilies(counts), failed)


def samples(
    families: SharedFamilies, item: TargetData[SharedData], _: OutputSettings, out: Samples
) -> None:
    account = item.key[0]
    for collaboration_id, found in active_only(item, item.data.per_collaboration):
        where = (label(found.membership_id), label(collaboration_id))
        failed = dict.fromkeys(ROLES, 0)
        for (creator, payer), counted in found.groups.items():
            part = role(account, creator, payer)
            families.statuses.add(out, (*where, label(creator), label(payer), part), counted)
            failed[part] += counted.once_total
        for part, number in failed.items():
            out.add(families.failed, (*where, part), number)


def oldest_in_progress(kind: ListedKind) -> AgeSpec[SharedData]:
    def points(item: TargetData[SharedData]) -> list[tuple[tuple[str, ...], float | None]]:
        account = item.key[0]
        return [
            (
                (
                    label(found.membership_id),
                    label(cid),
                    label(creator),
                    label(payer),
                    role(account, creator, payer),
                ),
                counted.oldest_in_progress,
            )
            for cid, found in active_only(item, item.data.per_collaboration)
            for (creator, payer), counted in found.groups.items()
        ]

    return AgeSpec(
        kind.oldest_name,
        f"Age of the oldest of each ACTIVE collaboration's {kind.noun} in "
        f"{' or '.join(kind.rules.in_progress)}, per creator and payer; 0 when none.",
        GROUP_LABELS,
        points,
    )


def findings(kind: ListedKind, key: TargetKey, data: SharedData, _: float) -> list[Finding]:
    """Another member's work that this account pays for, failed: to act on, with its creator.

    This account's own work is the ml_trained_models (inference jobs, input channels)
    collector's to report.
    """
    out = []
    for listed in data.per_collaboration.values():
        for (creator, payer), counted in listed.groups.items():
            failed = sum(counted.counts.get(s, 0) for s in kind.rules.once)
            if not failed or role(key[0], creator, payer) != "payer":
                continue
            what = (
                f"{kind.noun} created by member {creator}, paid by this account, failed: "
                f"{failed} in {', '.join(kind.rules.once)}"
            )
            out.append(
                Finding(key, listed.membership_id, FAILING, what, kind=FAILED_WORK, weight=failed)
            )
    return out


def spec(shared: SharedKind, name: str, doc: str, *, order: int, what: str) -> CollectorSpec[Any]:
    """A collector of one collaboration-wide kind over every ACTIVE collaboration."""
    kind = shared.kind
    families = shared_families(kind)
    return CollectorSpec(
        name=name,
        doc=doc,
        order=order,
        polling=Polling(
            poll=partial(poll, shared),
            operations=(kind.operation,),
            calls=Calls(
                f"Σ over ACTIVE collaborations of ⌈{what} / 100⌉, at least 1 each (every member's)",
                per_active=1,
            ),
            fans_out_from=collaborations.NAME,
            service="cleanroomsml",
        ),
        rendering=Rendering(
            families=families.families,
            samples=partial(samples, families),
            ages=(oldest_in_progress(kind),),
        ),
        shown=Shown(
            probe=Probe(lambda c: {"collaborationIdentifier": c.id}),
            findings=partial(findings, kind),
        ),
    )
