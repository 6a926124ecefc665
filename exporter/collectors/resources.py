"""What the ML and intermediate-table collectors share: resources counted by status.

Each kind of resource (trained models, inference jobs, ML input channels, audience models,
intermediate tables) is listed whole (every page at ``maxResults=100``), counted by status
(every status the API documents present, unknown ones kept), its oldest in-progress one
aged at scrape time, and each one counted once when first seen failed. The failed counter
follows the analyses' rule: the first poll of a membership (or target) is a baseline that
counts nothing; after that an id is counted the first time a poll sees it failed, and the
ids seen failed are carried to the next poll in the collector's own data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from prometheus_client.core import Metric

from exporter.collectors import collaborations
from exporter.collectors.base import (
    AgeSpec,
    CollectorSpec,
    Fresh,
    OutputSettings,
    PollContext,
    Probe,
    epoch_seconds,
)
from exporter.collectors.collaborations import Collaboration, active_only, per_membership
from exporter.collectors.paging import list_all
from exporter.core.families import COLLECTOR_POLLED, TARGET_LABELS, counter, gauge, label
from exporter.core.model import FAILED_WORK, FAILING, INFO, Finding, TargetKey

log = logging.getLogger(__name__)

MEMBERSHIP_LABELS = (*TARGET_LABELS, "membership_id", "collaboration_id")
IN_PROGRESS = ("CREATE_PENDING", "CREATE_IN_PROGRESS")
STUCK_AFTER = 6 * 3600.0  # the status page lists work in progress this long


@dataclass(frozen=True)
class Kind:
    """One kind of resource: how it is listed, its statuses and its metric names."""

    operation: str
    list_key: str
    id_key: str  # the summary member that identifies one: trainedModelArn, id
    noun: str  # "trained models", for help texts, logs and the status page
    statuses: tuple[str, ...]  # every status the API documents, always exported
    failed: tuple[str, ...]  # statuses counted once in the failed counter
    counts_name: str  # cleanrooms_ml_trained_models
    failed_name: str  # without _total
    oldest_name: str = ""  # of the oldest in-progress one's age; "" for none
    in_progress: tuple[str, ...] = IN_PROGRESS
    # Summary members the collector reads besides id, status and createTime. Only these
    # are kept: whole summaries of 25 resources per membership and kind took most of the
    # exporter's memory at 1,500 memberships (docs/performance.md).
    keep: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Resource:
    """The fields of one summary the metrics use."""

    id: str
    status: str
    created: float
    summary: Mapping[str, Any]  # the members its kind keeps (``Kind.keep``)


@dataclass(frozen=True, slots=True)
class Tally:
    """One membership's (or target's) resources of one kind, and what carries to the next poll."""

    membership_id: str
    counts: Mapping[str, int]
    oldest_in_progress: float | None
    failed_total: int
    failed_ids: frozenset[str]  # the ones failed in this listing
    resources: tuple[Resource, ...] = ()


@dataclass(frozen=True, slots=True)
class ResourcesData:
    """A fan-out collector's tallies per ACTIVE collaboration id (each has one membership)."""

    tallies: Mapping[str, Tally] = field(default_factory=lambda: MappingProxyType({}))
    invalid_items: int = 0


def parse(kind: Kind, item: Any) -> Resource | None:
    """One summary, or None when its id, status or createTime is missing or malformed."""
    if not isinstance(item, Mapping):
        return None
    found, status = item.get(kind.id_key), item.get("status")
    created = epoch_seconds(item.get("createTime"))
    if not (isinstance(found, str) and found and isinstance(status, str) and status):
        return None
    if created is None:
        return None
    return Resource(found, status, created, {k: item[k] for k in kind.keep if k in item})


def tally(
    kind: Kind, membership_id: str, resources: Iterable[Resource], old: Tally | None
) -> Tally:
    """Counts by status, the oldest in progress, and the failed counter carried from ``old``."""
    by_id = {r.id: r for r in resources}  # an id listed twice (paging race) counts once
    counts = dict.fromkeys(kind.statuses, 0)
    for resource in by_id.values():
        counts[resource.status] = counts.get(resource.status, 0) + 1
    failed = frozenset(r.id for r in by_id.values() if r.status in kind.failed)
    total = 0 if old is None else old.failed_total + len(failed - old.failed_ids)
    running = [r.created for r in by_id.values() if r.status in kind.in_progress]
    ordered = tuple(sorted(by_id.values(), key=lambda r: r.id))
    return Tally(
        membership_id, MappingProxyType(counts), min(running, default=None), total, failed, ordered
    )


def list_tally(
    context: PollContext, kind: Kind, params: Mapping[str, Any], old: Tally | None, owner: str
) -> tuple[Tally, int]:
    """Every page of ``kind`` (``params`` say whose), tallied; and the malformed summaries."""
    items, _ = list_all(context.client, kind.operation, kind.list_key, params, context.max_pages)
    parsed = [parse(kind, item) for item in items]
    found = [p for p in parsed if p is not None]
    return tally(kind, owner, found, old), len(parsed) - len(found)


def poll_memberships(kind: Kind, context: PollContext) -> ResourcesData:
    """One paged listing per ACTIVE membership."""
    previous = context.previous if isinstance(context.previous, ResourcesData) else None
    earlier = previous.tallies if previous is not None else {}
    invalid = 0

    def fetch(collaboration: Collaboration) -> Tally:
        nonlocal invalid
        old = earlier.get(collaboration.id)
        if old is not None and old.membership_id != collaboration.membership_id:
            old = None  # a new membership of the same collaboration starts afresh
        params = {"membershipIdentifier": collaboration.membership_id}
        found, bad = list_tally(context, kind, params, old, collaboration.membership_id)
        invalid += bad
        return found

    tallies = per_membership(context, kind.operation, fetch)
    if invalid:
        log.warning("skipped %d malformed %s summaries", invalid, kind.noun)
    return ResourcesData(MappingProxyType(tallies), invalid)


def membership_families(kind: Kind, fresh: Sequence[Fresh]) -> list[Metric]:
    """Counts by status and the failed counter of each ACTIVE membership."""
    counts = gauge(
        kind.counts_name,
        f"{kind.noun.capitalize()} of each ACTIVE membership by status.",
        (*MEMBERSHIP_LABELS, "status"),
        polled=COLLECTOR_POLLED,
    )
    failed = counter(
        kind.failed_name,
        f"{kind.noun.capitalize()} seen failed ({', '.join(kind.failed)}), each counted once; "
        "from 0 when the exporter starts watching a membership.",
        MEMBERSHIP_LABELS,
    )
    for item in fresh:
        data: ResourcesData = item.data
        for collaboration_id, found in active_only(item, data.tallies):
            key = [*item.key, label(found.membership_id), label(collaboration_id)]
            for status, count in sorted(found.counts.items()):
                counts.add_metric([*key, label(status)], count)
            failed.add_metric(key, found.failed_total)
    return [counts, failed]


def oldest_in_progress(kind: Kind) -> AgeSpec:
    def points(item: Fresh) -> list[tuple[tuple[str, ...], float | None]]:
        data: ResourcesData = item.data
        return [
            ((label(t.membership_id), label(cid)), t.oldest_in_progress)
            for cid, t in active_only(item, data.tallies)
        ]

    return AgeSpec(
        kind.oldest_name,
        f"Age of the oldest of each ACTIVE membership's {kind.noun} in "
        f"{' or '.join(kind.in_progress)}; 0 when none.",
        ("membership_id", "collaboration_id"),
        points,
    )


def tally_findings(kind: Kind, key: TargetKey, found: Tally, now: float) -> list[Finding]:
    """A failed one is something to act on; one in progress for hours is worth a look."""
    out = []
    failed = sum(found.counts.get(s, 0) for s in kind.failed)
    if failed:
        what = f"{kind.noun} failed: {failed} in {', '.join(kind.failed)}"
        out.append(
            Finding(key, found.membership_id, FAILING, what, kind=FAILED_WORK, weight=failed)
        )
    first = found.oldest_in_progress
    if first is not None and now - first > STUCK_AFTER:
        # Training can take this long: information, not a failure.
        hours = (now - first) / 3600
        what = f"{kind.noun}: the oldest has been in progress for {hours:.0f}h"
        mid = found.membership_id
        out.append(Finding(key, mid, FAILING, what, (), "Running for hours", INFO, hours))
    return out


def spec(kind: Kind, name: str, doc: str, *, service: str, iam_prefix: str) -> CollectorSpec:
    """A collector of one kind of resource of every ACTIVE membership."""

    def poll(context: PollContext) -> ResourcesData:
        return poll_memberships(kind, context)

    def families(fresh: Sequence[Fresh], _: OutputSettings) -> list[Metric]:
        return membership_families(kind, fresh)

    def findings(key: TargetKey, data: ResourcesData, now: float) -> list[Finding]:
        return [f for t in data.tallies.values() for f in tally_findings(kind, key, t, now)]

    return CollectorSpec(
        name=name,
        doc=doc,
        operations=(kind.operation,),
        default_enabled=False,
        default_interval=None,
        poll=poll,
        families=families,
        ages=(oldest_in_progress(kind),) if kind.oldest_name else (),
        needs=collaborations.NAME,
        probe=Probe(lambda c: {"membershipIdentifier": c.membership_id}),
        findings=findings,
        service=service,
        iam_prefix=iam_prefix,
    )
