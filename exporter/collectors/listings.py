"""Collectors of one kind of item listed whole and counted by status (``status_counts``).

Each ACTIVE membership's items (trained models, inference jobs, ML input channels,
intermediate tables) or one target's (audiences) are listed whole (every page at
``maxResults=100``), counted by status with every documented status present and unknown
ones kept, the oldest one in progress aged at scrape time, and each one counted once when
first seen failed, the first poll of a membership (or target) a baseline.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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
from exporter.collectors.paging import list_all
from exporter.collectors.status_counts import (
    Item,
    StatusFamilies,
    StatusRules,
    Tally,
    oldest_age,
    parse_items,
    tally,
)
from exporter.core.model import FAILED_WORK, FAILING, INFO, Finding, TargetKey
from exporter.core.series import OutputSettings, Samples, counter, gauge, label

log = logging.getLogger(__name__)

IN_PROGRESS = ("CREATE_PENDING", "CREATE_IN_PROGRESS")
STUCK_AFTER = 6 * 3600.0  # the status page lists work in progress this long


@dataclass(frozen=True)
class ListedKind:
    """One kind of item: how it is listed, its statuses and its metric names."""

    operation: str
    list_key: str
    id_key: str  # the summary member that identifies one: trainedModelArn, id
    noun: str  # "trained models", for help texts, logs and the status page
    rules: StatusRules
    counts_name: str  # cleanrooms_ml_trained_models
    failed_name: str  # without _total; "" for a kind that never fails
    oldest_name: str = ""  # of the oldest in-progress one's age; "" for none
    # Summary members the collector reads besides id, status and createTime.
    kept_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Listed:
    """One membership's (or target's) items of one kind, tallied."""

    membership_id: str
    tally: Tally
    items: tuple[Item, ...] = ()  # sorted by id


@dataclass(frozen=True, slots=True)
class ListingsData:
    """A fan-out collector's listings per ACTIVE collaboration id (each has one membership)."""

    per_collaboration: Mapping[str, Listed] = field(default_factory=lambda: MappingProxyType({}))
    invalid_items: int = 0


def list_tally(
    context: PollContext,
    kind: ListedKind,
    params: Mapping[str, Any],
    old: Listed | None,
    owner: str,
) -> tuple[Listed, int]:
    """Every page of ``kind`` (``params`` say whose), tallied; and the malformed summaries."""
    summaries, _ = list_all(
        context.client, kind.operation, kind.list_key, params, context.max_pages
    )
    items, invalid = parse_items(summaries, kind.id_key, kind.kept_fields)
    found = tally(kind.rules, items, old.tally if old is not None else None)
    unique = {item.id: item for item in items}
    return Listed(owner, found, tuple(unique[i] for i in sorted(unique))), invalid


def poll_memberships(kind: ListedKind, context: PollContext) -> ListingsData:
    """One paged listing per ACTIVE membership."""
    previous = context.previous if isinstance(context.previous, ListingsData) else None
    invalid = 0

    def fetch(collaboration: Collaboration, old: Listed | None) -> Listed:
        nonlocal invalid
        params = {"membershipIdentifier": collaboration.membership_id}
        found, bad = list_tally(context, kind, params, old, collaboration.membership_id)
        invalid += bad
        return found

    earlier = previous.per_collaboration if previous is not None else {}
    listed = each_membership(context, kind.operation, earlier, fetch)
    if invalid:
        log.warning("skipped %d malformed %s summaries", invalid, kind.noun)
    return ListingsData(MappingProxyType(listed), invalid)


def sentence(noun: str) -> str:
    """``noun`` opening a sentence: its first letter upper case, "ML" left as it is."""
    return noun[:1].upper() + noun[1:]


def status_families(kind: ListedKind, labels: tuple[str, ...], whose: str) -> StatusFamilies:
    """Counts by status and the failed counter, per ``labels``; ``whose`` for the help texts."""
    counts = gauge(
        kind.counts_name,
        f"{sentence(kind.noun)} {whose} by status.",
        *labels,
        "status",
        values=(("status", kind.rules.statuses),),
    )
    if not kind.failed_name:
        return StatusFamilies(counts)
    failed = counter(
        kind.failed_name,
        f"{sentence(kind.noun)} seen failed ({', '.join(kind.rules.once)}), each counted "
        "once; from 0 when the exporter starts watching a membership.",
        *labels,
    )
    return StatusFamilies(counts, failed)


def membership_families(kind: ListedKind) -> StatusFamilies:
    return status_families(kind, MEMBERSHIP_LABELS, "of each ACTIVE membership")


def membership_samples(
    families: StatusFamilies, item: TargetData[ListingsData], out: Samples
) -> None:
    for collaboration_id, found in active_only(item, item.data.per_collaboration):
        families.add(out, (label(found.membership_id), label(collaboration_id)), found.tally)


def oldest_in_progress(kind: ListedKind) -> AgeSpec[Any]:
    def tallies(item: TargetData[ListingsData]) -> Iterable[tuple[tuple[str, ...], Tally]]:
        return [
            ((label(found.membership_id), label(cid)), found.tally)
            for cid, found in active_only(item, item.data.per_collaboration)
        ]

    return oldest_age(
        kind.oldest_name,
        f"Age of the oldest of each ACTIVE membership's {kind.noun} in "
        f"{' or '.join(kind.rules.in_progress)}; 0 when none.",
        MEMBERSHIP_LABELS,
        tallies,
    )


def failed_findings(
    kind: ListedKind, key: TargetKey, membership_id: str, found: Tally, now: float
) -> list[Finding]:
    """A failed one is something to act on; one in progress for hours is worth a look."""
    out = []
    failed = sum(found.counts.get(s, 0) for s in kind.rules.once)
    if failed:
        what = f"{kind.noun} failed: {failed} in {', '.join(kind.rules.once)}"
        out.append(Finding(key, membership_id, FAILING, what, kind=FAILED_WORK, weight=failed))
    first = found.oldest_in_progress
    if first is not None and now - first > STUCK_AFTER:
        # Training can take this long: information, not a failure.
        hours = (now - first) / 3600
        what = f"{kind.noun}: the oldest has been in progress for {hours:.0f}h"
        out.append(Finding(key, membership_id, FAILING, what, (), "Running for hours", INFO, hours))
    return out


def findings(kind: ListedKind, key: TargetKey, data: ListingsData, now: float) -> list[Finding]:
    return [
        f
        for listed in data.per_collaboration.values()
        for f in failed_findings(kind, key, listed.membership_id, listed.tally, now)
    ]


def spec(
    kind: ListedKind,
    name: str,
    doc: str,
    *,
    order: int,
    service: str = "cleanrooms",
    what: str,
) -> CollectorSpec[ListingsData]:
    """A collector of one kind of item of every ACTIVE membership; ``what`` for the formula."""
    families = membership_families(kind)

    def samples(item: TargetData[ListingsData], _: OutputSettings, out: Samples) -> None:
        membership_samples(families, item, out)

    def found(key: TargetKey, data: ListingsData, now: float) -> list[Finding]:
        return findings(kind, key, data, now)

    return CollectorSpec(
        name=name,
        doc=doc,
        order=order,
        polling=Polling(
            poll=lambda context: poll_memberships(kind, context),
            operations=(kind.operation,),
            calls=Calls(
                f"Σ over ACTIVE memberships of ⌈{what} / 100⌉, at least 1 each", per_active=1
            ),
            fans_out_from=collaborations.NAME,
            service=service,
        ),
        rendering=Rendering(
            families=families.families,
            samples=samples,
            ages=(oldest_in_progress(kind),) if kind.oldest_name else (),
        ),
        shown=Shown(
            probe=Probe(lambda c: {"membershipIdentifier": c.membership_id}), findings=found
        ),
    )
