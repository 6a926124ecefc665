"""What the protected_queries and protected_jobs collectors share.

Both list one membership's analyses newest first, keep those created within
``lookback``, count them by status, and count each one that finished exactly once.

The finished counters follow one rule: an id is counted the first time a poll sees it
in a terminal status. The collector carries the ids it has seen finish, and its counts,
in its own last good data (``PollContext.previous``), so:

- a failed poll changes nothing; the next good poll counts what finished meanwhile
  (as long as it is still within ``lookback``);
- the first poll of a membership (after a start, or when the membership first shows
  up ACTIVE) only remembers what had already finished: the counters start at 0, as any
  counter does after a restart, and ``increase()`` sees no burst of old analyses;
- only analyses inside the window the previous poll covered can be counted, so a
  wider ``lookback`` after a reload, or the wall clock stepping back, never counts one
  twice;
- an id is forgotten once its createTime leaves ``lookback``: paging stops before such
  analyses, so it can never be listed again, and memory holds one lookback's worth.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from types import MappingProxyType
from typing import Any

from prometheus_client.core import Metric

from exporter.collectors import collaborations, details
from exporter.collectors.base import (
    AgeSpec,
    CollectorSpec,
    Fresh,
    Option,
    OutputSettings,
    PollContext,
    Probe,
    epoch_seconds,
)
from exporter.collectors.collaborations import Collaboration, active_only, per_membership
from exporter.collectors.paging import list_recent
from exporter.core.families import COLLECTOR_POLLED, TARGET_LABELS, counter, gauge, label
from exporter.core.model import (
    AT_LIMIT,
    EXHAUSTED,
    FAILED_WORK,
    FAILING,
    Finding,
    Spend,
    TargetKey,
)

log = logging.getLogger(__name__)

DEFAULT_LOOKBACK = 86400.0
RUNNING = ("SUBMITTED", "STARTED")
MEMBERSHIP_LABELS = (*TARGET_LABELS, "membership_id", "collaboration_id")
LOOKBACK = Option(
    "lookback",
    "duration",
    DEFAULT_LOOKBACK,
    "How far back to list: paging stops at the first one created earlier.",
)


@dataclass(frozen=True)
class Kind:
    """One kind of analysis: the operation that lists it, its statuses and metric names."""

    name: str  # the collector's
    operation: str
    list_key: str
    noun: str  # "queries" or "jobs", for logs and help texts
    one: str  # "query" or "job"
    statuses: tuple[str, ...]  # every status the API documents, always exported
    terminal: tuple[str, ...]
    counts_name: str
    finished_name: str  # without _total
    oldest_name: str
    get: details.Get  # the Get of one analysis, for its cost, duration and error
    prefix: str  # of the details' names: cleanrooms_protected_query
    membership_limit: int  # AWS's quota of ones running at once per membership


@dataclass(frozen=True, slots=True)
class Analysis:
    """The fields of one summary that the exporter uses."""

    id: str
    status: str
    created: float  # createTime, Unix seconds


@dataclass(frozen=True, slots=True)
class MembershipAnalyses:
    """One membership's analyses within the lookback, and what it carries to the next poll."""

    membership_id: str
    counts: Mapping[str, int]  # created within lookback, by status
    oldest_running: float | None  # createTime of the oldest SUBMITTED or STARTED one
    finished: Mapping[str, int]  # counted since this membership was first polled
    remembered: Mapping[str, float]  # ids seen finished -> createTime, all within lookback
    # The oldest createTime this poll covered. Not compared: it moves with every poll, and
    # a poll that found nothing new keeps the previous (equal) data object, so that the
    # renderer's cache and the workers' messages see "unchanged" by identity. The older
    # cutoff it keeps is as good: an analysis created between it and the newer one was
    # listed by the older poll (it existed and was within its window), so the polls since
    # would have found it terminal (remembered) or found it leave the window (new data).
    # Only one that AWS listed late, within one poll interval, just as lookback is
    # widened, could be counted where the newer cutoff would have taken it as baseline.
    cutoff: float = field(compare=False)
    truncated: bool = False  # max_pages was reached before the cutoff
    details: details.Details = field(default_factory=details.Details)
    running: int = 0  # SUBMITTED or STARTED within lookback


@dataclass(frozen=True, slots=True)
class AnalysesData:
    """One target's analyses per ACTIVE collaboration id (each has one membership)."""

    memberships: Mapping[str, MembershipAnalyses]
    invalid_items: int = 0
    # Durations of the analyses fetched, by status, since the target was first polled:
    # kept per target so a membership that goes does not make the histogram fall.
    durations: Mapping[str, details.Histogram] = field(default_factory=lambda: MappingProxyType({}))
    lookback: float = DEFAULT_LOOKBACK  # seconds this poll listed back


def created_at(item: Any) -> float | None:
    return epoch_seconds(item.get("createTime")) if isinstance(item, Mapping) else None


def parse_summary(item: Any) -> Analysis | None:
    """One summary, or None when its id, status or createTime is missing or malformed."""
    created = created_at(item)
    if created is None:
        return None
    analysis_id, status = item.get("id"), item.get("status")
    if not (isinstance(analysis_id, str) and analysis_id and isinstance(status, str) and status):
        return None
    return Analysis(analysis_id, status, created)


def poll(kind: Kind, context: PollContext) -> AnalysesData:
    """One newest-first listing per ACTIVE membership, down to ``lookback``."""
    lookback = float(context.options.get("lookback", DEFAULT_LOOKBACK))
    cutoff = context.now - lookback
    previous = context.previous if isinstance(context.previous, AnalysesData) else None
    earlier = previous.memberships if previous is not None else {}
    durations = dict(previous.durations) if previous is not None else {}
    per_poll = int(context.options.get("details_per_poll", details.DETAILS_PER_POLL.default))
    fetching = bool(context.options.get("details", details.DETAILS.default))
    invalid = 0

    def fetch(collaboration: Collaboration) -> MembershipAnalyses:
        nonlocal invalid
        listing = list_recent(
            context.client,
            kind.operation,
            kind.list_key,
            {"membershipIdentifier": collaboration.membership_id},
            created=created_at,
            cutoff=cutoff,
            max_pages=context.max_pages,
        )
        parsed = [parse_summary(item) for item in listing.items]
        invalid += sum(1 for p in parsed if p is None)
        old = earlier.get(collaboration.id)
        if old is not None and old.membership_id != collaboration.membership_id:
            old = None  # a new membership of the same collaboration starts afresh
        found = [p for p in parsed if p is not None]
        built = build(
            kind, collaboration.membership_id, found, cutoff, old, truncated=listing.truncated
        )
        if not fetching:
            return built
        before = old.details if old else details.Details()
        waiting = details.queue(before, newly_finished(old, built), cutoff)
        got = details.fetch(
            context.client,
            kind.get,
            built.membership_id,
            waiting,
            per_poll=per_poll,
            durations=durations,
        )
        return replace(built, details=got)

    memberships = per_membership(context, kind.operation, fetch)
    if invalid:
        log.warning("skipped %d malformed protected %s summaries", invalid, kind.noun)
    truncated = sorted(m.membership_id for m in memberships.values() if m.truncated)
    if truncated:
        log.warning(
            "%s: max_pages_per_poll reached before lookback for memberships %s; counts are "
            "of the newest only",
            kind.operation,
            ", ".join(truncated),
        )
    durations_view = MappingProxyType(durations)
    return AnalysesData(MappingProxyType(memberships), invalid, durations_view, lookback)


def newly_finished(
    old: MembershipAnalyses | None, new: MembershipAnalyses
) -> list[tuple[str, float]]:
    """(id, createTime) of what this poll counted in the finished counters, oldest first."""
    if old is None:
        return []  # the baseline poll counts nothing, so fetches nothing
    fresh = [
        (c, i) for i, c in new.remembered.items() if i not in old.remembered and c >= old.cutoff
    ]
    return [(i, c) for c, i in sorted(fresh)]


def build(
    kind: Kind,
    membership_id: str,
    analyses: Iterable[Analysis],
    cutoff: float,
    old: MembershipAnalyses | None,
    *,
    truncated: bool = False,
) -> MembershipAnalyses:
    """Counts, the oldest running one, and the finished counters carried on from ``old``."""
    by_id = {a.id: a for a in analyses}  # an id listed twice (paging race) counts once
    counts = dict.fromkeys(kind.statuses, 0)
    for analysis in by_id.values():
        counts[analysis.status] = counts.get(analysis.status, 0) + 1
    running = [a.created for a in by_id.values() if a.status in RUNNING]
    finished = dict(old.finished) if old is not None else dict.fromkeys(kind.terminal, 0)
    kept = old.remembered if old is not None else {}
    remembered = {i: created for i, created in kept.items() if created >= cutoff}
    for analysis in by_id.values():
        if analysis.status not in kind.terminal or analysis.id in remembered:
            continue
        remembered[analysis.id] = analysis.created
        # Only the window the last poll covered can hold news; older ones may have been
        # counted and forgotten already, and the first poll is a baseline.
        if old is not None and analysis.created >= old.cutoff:
            finished[analysis.status] += 1
    return MembershipAnalyses(
        membership_id,
        MappingProxyType(counts),
        min(running, default=None),
        MappingProxyType(finished),
        MappingProxyType(remembered),
        cutoff,
        truncated,
        running=len(running),
    )


def families(kind: Kind, fresh: Sequence[Fresh], _: OutputSettings) -> list[Metric]:
    counts = gauge(
        kind.counts_name,
        f"Protected {kind.noun} of each ACTIVE membership created within lookback, by status.",
        (*MEMBERSHIP_LABELS, "status"),
        polled=COLLECTOR_POLLED,
    )
    finished = counter(
        kind.finished_name,
        f"Protected {kind.noun} seen finished, each counted once, by terminal status; "
        "from 0 when the exporter starts watching a membership.",
        (*MEMBERSHIP_LABELS, "status"),
    )
    for item in fresh:
        data: AnalysesData = item.data
        for collaboration_id, found in active_only(item, dict(data.memberships)):
            key = [*item.key, label(found.membership_id), label(collaboration_id)]
            for status, count in sorted(found.counts.items()):
                counts.add_metric([*key, label(status)], count)
            for status, count in sorted(found.finished.items()):
                finished.add_metric([*key, label(status)], count)
    names = details.Names(kind.name, kind.prefix, kind.noun, kind.terminal)
    return [counts, finished, *details.families(names, fresh)]


def oldest_running(kind: Kind) -> AgeSpec:
    def points(item: Fresh) -> list[tuple[tuple[str, ...], float | None]]:
        data: AnalysesData = item.data
        return [
            ((label(m.membership_id), label(cid)), m.oldest_running)
            for cid, m in active_only(item, dict(data.memberships))
        ]

    return AgeSpec(
        kind.oldest_name,
        f"Age of the oldest SUBMITTED or STARTED protected {kind.one} of each ACTIVE "
        "membership (within lookback); 0 when none.",
        ("membership_id", "collaboration_id"),
        points,
    )


def spec(kind: Kind, doc: str) -> CollectorSpec:
    """The collector of one kind of analysis: a fan-out over ACTIVE memberships."""
    return CollectorSpec(
        name=kind.name,
        doc=doc,
        operations=(kind.operation, kind.get.operation),
        default_enabled=False,
        default_interval=60.0,
        poll=partial(poll, kind),
        families=partial(families, kind),
        ages=(oldest_running(kind),),
        options=(LOOKBACK, details.DETAILS, details.DETAILS_PER_POLL),
        needs=collaborations.NAME,
        probe=Probe(lambda c: {"membershipIdentifier": c.membership_id}),
        findings=partial(findings, kind),
        spend=spend,
    )


FAILED = ("FAILED", "TIMED_OUT")


def findings(kind: Kind, key: TargetKey, data: AnalysesData, _: float = 0.0) -> list[Finding]:
    """Per membership: one row if as many run as AWS allows at once, one if some failed."""
    out, limit = [], kind.membership_limit
    for m in data.memberships.values():
        started, waiting = m.counts.get("STARTED", 0), m.counts.get("SUBMITTED", 0)
        if started >= limit:
            # At its quota AWS queues new ones (SUBMITTED): nothing fails, nothing to do.
            allowed = (
                f"AWS allows {limit} at once"
                if started == limit
                else f"more than AWS's default of {limit} at once (a raised quota)"
            )
            queue = f"{waiting} more {'is' if waiting == 1 else 'are'} waiting"
            what = (
                f"{kind.noun}: {started} running; {allowed}; {queue if waiting else 'none waiting'}"
            )
            kind_of = "At the concurrency limit"
            out.append(
                Finding(key, m.membership_id, EXHAUSTED, what, (), kind_of, AT_LIMIT, waiting)
            )
        failed = [(s, m.counts.get(s, 0)) for s in FAILED if m.counts.get(s)]
        if failed:
            parts = ", ".join(f"{n} {s}" for s, n in failed)
            what = f"{kind.noun} failed in the last {data.lookback / 3600:g}h: {parts}"
            weight = sum(n for _, n in failed)
            out.append(
                Finding(key, m.membership_id, FAILING, what, kind=FAILED_WORK, weight=weight)
            )
    return out


def spend(key: TargetKey, data: AnalysesData) -> list[Spend]:
    """Per collaboration: CRPU-hours fetched and analyses failed within lookback."""
    out = []
    for collaboration_id, membership in data.memberships.items():
        failed = sum(membership.counts.get(s, 0) for s in FAILED)
        cost = sum(units for _, units in membership.details.recent)
        out.append(Spend(key, collaboration_id, cost, failed, data.lookback))
    return out
