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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from types import MappingProxyType
from typing import Any

from exporter.collectors import collaborations, details
from exporter.collectors.base import (
    AgeSpec,
    Calls,
    CollectorSpec,
    Option,
    PollContext,
    Polling,
    Probe,
    Rendering,
    Shown,
    TargetData,
    epoch_seconds,
)
from exporter.collectors.collaborations import (
    MEMBERSHIP_LABELS,
    Collaboration,
    active_only,
    each_membership,
)
from exporter.collectors.paging import list_recent
from exporter.collectors.status_counts import (
    Item,
    StatusFamilies,
    StatusRules,
    Tally,
    oldest_age,
    tally,
)
from exporter.core.histogram import Histogram
from exporter.core.model import AT_LIMIT, EXHAUSTED, FAILED_WORK, FAILING, Finding, Spend, TargetKey
from exporter.core.series import Family, OutputSettings, Samples, counter, gauge, label

log = logging.getLogger(__name__)

DEFAULT_LOOKBACK = 86400.0
RUNNING = ("SUBMITTED", "STARTED")
LOOKBACK = Option(
    "lookback",
    "duration",
    DEFAULT_LOOKBACK,
    "How far back to list: paging stops at the first one created earlier.",
)


@dataclass(frozen=True)
class AnalysisKind:
    """One kind of analysis: the operation that lists it, its statuses and metric names."""

    name: str  # the collector's
    operation: str
    list_key: str
    noun: str  # "queries" or "jobs", for logs and help texts
    singular: str  # "query" or "job"
    rules: StatusRules  # once: the terminal statuses; in progress: SUBMITTED, STARTED
    counts_name: str
    finished_name: str  # without _total
    oldest_name: str
    get: details.Get  # the Get of one analysis, for its cost, duration and error
    prefix: str  # of the details' names: cleanrooms_protected_query
    membership_limit: int  # AWS's quota of ones running at once per membership


@dataclass(frozen=True, slots=True)
class MembershipAnalyses:
    """One membership's analyses within the lookback, and what it carries to the next poll.

    ``tally.window_start`` is where the listing stopped (the lookback's cutoff).
    """

    membership_id: str
    tally: Tally
    truncated: bool = False  # max_pages was reached before the cutoff
    details: details.Details = field(default_factory=details.Details)

    @property
    def counts(self) -> Mapping[str, int]:
        """Created within lookback, by status."""
        return self.tally.counts

    @property
    def running(self) -> int:
        """SUBMITTED or STARTED within lookback."""
        return self.tally.in_progress


@dataclass(frozen=True, slots=True)
class AnalysesData:
    """One target's analyses per ACTIVE collaboration id (each has one membership)."""

    memberships: Mapping[str, MembershipAnalyses]
    invalid_items: int = 0
    # Durations of the analyses fetched, by status, since the target was first polled:
    # kept per target so a membership that goes does not make the histogram fall.
    durations: Mapping[str, Histogram] = field(default_factory=lambda: MappingProxyType({}))
    lookback: float = DEFAULT_LOOKBACK  # seconds this poll listed back


def created_at(item: Any) -> float | None:
    return epoch_seconds(item.get("createTime")) if isinstance(item, Mapping) else None


def parse_summary(item: Any) -> Item | None:
    """One summary, or None when its id, status or createTime is missing or malformed."""
    created = created_at(item)
    if created is None:
        return None
    analysis_id, status = item.get("id"), item.get("status")
    if not (isinstance(analysis_id, str) and analysis_id and isinstance(status, str) and status):
        return None
    return Item(analysis_id, status, created)


def poll(kind: AnalysisKind, context: PollContext) -> AnalysesData:
    """One newest-first listing per ACTIVE membership, down to ``lookback``."""
    lookback = float(context.options.get("lookback", DEFAULT_LOOKBACK))
    cutoff = context.now - lookback
    previous = context.previous if isinstance(context.previous, AnalysesData) else None
    durations = dict(previous.durations) if previous is not None else {}
    fetch_details = _details_fetcher(kind, context, durations)
    invalid = 0

    def fetch(collaboration: Collaboration, old: MembershipAnalyses | None) -> MembershipAnalyses:
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
        found = tally(
            kind.rules, (p for p in parsed if p is not None), _tally(old), window_start=cutoff
        )
        built = MembershipAnalyses(collaboration.membership_id, found, listing.truncated)
        return fetch_details(old, built, cutoff)

    earlier = previous.memberships if previous is not None else {}
    memberships = each_membership(context, kind.operation, earlier, fetch)
    if invalid:
        log.warning("skipped %d malformed protected %s summaries", invalid, kind.noun)
    _warn_truncated(kind, memberships.values())
    durations_view = MappingProxyType(durations)
    return AnalysesData(MappingProxyType(memberships), invalid, durations_view, lookback)


def _tally(old: MembershipAnalyses | None) -> Tally | None:
    return old.tally if old is not None else None


Fetcher = Callable[[MembershipAnalyses | None, MembershipAnalyses, float], MembershipAnalyses]


def _details_fetcher(
    kind: AnalysisKind, context: PollContext, durations: details.Durations
) -> Fetcher:
    """What a membership's poll does for its details: the Gets of what newly finished."""
    per_poll = int(context.options.get("details_per_poll", details.DETAILS_PER_POLL.default))
    if not bool(context.options.get("details", details.DETAILS.default)):
        return lambda old, built, cutoff: built

    def fetch(
        old: MembershipAnalyses | None, built: MembershipAnalyses, cutoff: float
    ) -> MembershipAnalyses:
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

    return fetch


def _warn_truncated(kind: AnalysisKind, memberships: Iterable[MembershipAnalyses]) -> None:
    truncated = sorted(m.membership_id for m in memberships if m.truncated)
    if truncated:
        log.warning(
            "%s: max_pages_per_poll reached before lookback for memberships %s; counts are "
            "of the newest only",
            kind.operation,
            ", ".join(truncated),
        )


def newly_finished(
    old: MembershipAnalyses | None, new: MembershipAnalyses
) -> list[tuple[str, float]]:
    """(id, createTime) of what this poll counted in the finished counters, oldest first."""
    if old is None:
        return []  # the baseline poll counts nothing, so fetches nothing
    since = old.tally.window_start or 0.0
    fresh = [(c, i) for i, c in new.tally.seen.items() if i not in old.tally.seen and c >= since]
    return [(i, c) for c, i in sorted(fresh)]


@dataclass(frozen=True)
class AnalysisFamilies:
    """One kind of analysis' families: counted by status, and its details'."""

    statuses: StatusFamilies
    details: details.DetailFamilies

    @property
    def families(self) -> tuple[Family, ...]:
        return (*self.statuses.families, *self.details.families)


def analysis_families(kind: AnalysisKind) -> AnalysisFamilies:
    counts = gauge(
        kind.counts_name,
        f"Protected {kind.noun} of each ACTIVE membership created within lookback, by status.",
        *MEMBERSHIP_LABELS,
        "status",
        values=(("status", kind.rules.statuses),),
    )
    finished = counter(
        kind.finished_name,
        f"Protected {kind.noun} seen finished, each counted once, by terminal status; "
        "from 0 when the exporter starts watching a membership.",
        *MEMBERSHIP_LABELS,
        "status",
        values=(("status", kind.rules.once),),
    )
    names = details.DetailFamilies.named(kind.name, kind.prefix, kind.noun, kind.rules.once)
    return AnalysisFamilies(StatusFamilies(counts, finished), names)


def samples(
    families: AnalysisFamilies, item: TargetData[AnalysesData], _: OutputSettings, out: Samples
) -> None:
    data = item.data
    for collaboration_id, found in active_only(item, data.memberships):
        key = (label(found.membership_id), label(collaboration_id))
        families.statuses.add(out, key, found.tally)
        families.details.add(out, key, found.details)
    families.details.add_durations(out, data.durations)


def oldest_running(kind: AnalysisKind) -> AgeSpec[Any]:
    def tallies(item: TargetData[AnalysesData]) -> list[tuple[tuple[str, ...], Tally]]:
        return [
            ((label(m.membership_id), label(cid)), m.tally)
            for cid, m in active_only(item, item.data.memberships)
        ]

    return oldest_age(
        kind.oldest_name,
        f"Age of the oldest SUBMITTED or STARTED protected {kind.singular} of each ACTIVE "
        "membership (within lookback); 0 when none.",
        MEMBERSHIP_LABELS,
        tallies,
    )


def spec(kind: AnalysisKind, doc: str, *, order: int, formula: str) -> CollectorSpec[AnalysesData]:
    """The collector of one kind of analysis: a fan-out over ACTIVE memberships."""
    families = analysis_families(kind)
    return CollectorSpec(
        name=kind.name,
        doc=doc,
        order=order,
        polling=Polling(
            poll=partial(poll, kind),
            operations=(kind.operation, kind.get.operation),
            calls=Calls(formula, per_active=1),
            default_interval=60.0,
            options=(LOOKBACK, details.DETAILS, details.DETAILS_PER_POLL),
            fans_out_from=collaborations.NAME,
        ),
        rendering=Rendering(
            families=families.families,
            samples=partial(samples, families),
            ages=(oldest_running(kind),),
        ),
        shown=Shown(
            probe=Probe(lambda c: {"membershipIdentifier": c.membership_id}),
            findings=partial(findings, kind),
            spend=spend,
        ),
    )


FAILED = ("FAILED", "TIMED_OUT")


def findings(
    kind: AnalysisKind, key: TargetKey, data: AnalysesData, _: float = 0.0
) -> list[Finding]:
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
