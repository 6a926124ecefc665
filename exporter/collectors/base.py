"""What every collector module provides, and what the core hands it: the collector contract.

A collector owns one Clean Rooms resource: the API calls (``poll``), the parse into
frozen model objects (its return value), and the metric families built from it.
Scheduling, credentials, rate limits, retries, API counting and health are the core's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from botocore.exceptions import ClientError
from prometheus_client.core import Metric

from exporter.collectors.paging import list_all
from exporter.core.model import Collaboration, PollData, TargetKey

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class PollContext:
    """What one poll of one target needs; ``client.call(operation, **params)`` makes a request."""

    client: Any
    collaborations: PollData | None  # the collaborations collector's last good data
    member_status: str | None
    max_pages: int
    now: float  # wall clock at the start of the poll
    previous: Any = None  # this collector's last good data for the target, if any
    options: Mapping[str, Any] = field(default_factory=dict)  # its own config keys, resolved

    def active_collaborations(self) -> tuple[Collaboration, ...]:
        """The ACTIVE collaborations to fan out to, from data already polled: no extra call."""
        if self.collaborations is None:
            return ()
        return tuple(c for c in self.collaborations.collaborations if c.member_status == "ACTIVE")


@dataclass(frozen=True)
class Fresh:
    """One target's data for rendering: only targets whose data is not stale are passed."""

    key: TargetKey
    data: Any
    # Ids of the target's ACTIVE collaborations in the last good collaborations poll:
    # per-collaboration series of a collaboration that is gone are dropped at once.
    active: frozenset[str]


@dataclass(frozen=True)
class AgeSpec:
    """A gauge of ``now - timestamp`` computed at scrape time (0 when there is no timestamp)."""

    name: str
    doc: str
    labels: tuple[str, ...]  # after account_id and region
    points: Callable[[Fresh], list[tuple[tuple[str, ...], float | None]]]


@dataclass(frozen=True)
class Option:
    """A config key of one collector beyond enabled/interval/stale_after."""

    name: str
    kind: str  # "duration" (seconds) or "count" (a positive integer)
    default: float
    doc: str


@dataclass(frozen=True)
class CollectorSpec:
    """One collector: its name, schedule defaults, API cost, poll and metric families."""

    name: str
    doc: str
    operations: tuple[str, ...]  # AWS operations it calls, for counters and docs
    default_enabled: bool
    default_interval: float | None  # None: the global poll_interval
    fan_out: bool  # polls once per ACTIVE collaboration, so waits for the collaborations data
    poll: Callable[[PollContext], Any]
    families: Callable[[Sequence[Fresh]], list[Metric]]  # from data alone: cached per poll
    ages: tuple[AgeSpec, ...] = ()  # grow with the clock: computed per scrape
    options: tuple[Option, ...] = ()


def active_only(fresh: Fresh, by_collaboration: dict[str, Any]) -> list[tuple[str, Any]]:
    """Per-collaboration entries whose collaboration is still ACTIVE, sorted by id."""
    return sorted((cid, v) for cid, v in by_collaboration.items() if cid in fresh.active)


def epoch_seconds(value: Any) -> float | None:
    """A parsed API timestamp as Unix seconds, or None when it is missing or malformed."""
    # botocore parses the timestamp shape into an aware datetime; anything else is malformed.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.timestamp()
    return None


def list_per_collaboration(
    context: PollContext, operation: str, list_key: str, params: Mapping[str, Any]
) -> dict[str, list[Any]]:
    """``operation`` once per ACTIVE collaboration (each paged), items by collaboration id.

    A collaboration deleted since the collaborations poll answers ResourceNotFound: it is
    skipped, as its series would vanish anyway. Any other error fails the whole poll.
    """
    items: dict[str, list[Any]] = {}
    for collaboration in context.active_collaborations():
        request = {**params, "collaborationIdentifier": collaboration.id}
        try:
            found, _ = list_all(context.client, operation, list_key, request, context.max_pages)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            log.info("%s: collaboration %s is gone; skipped", operation, collaboration.id)
            continue
        items[collaboration.id] = found
    return items


def per_membership(
    context: PollContext, operation: str, fetch: Callable[[Collaboration], T]
) -> dict[str, T]:
    """``fetch`` once per ACTIVE collaboration's membership, results by collaboration id.

    Series stay keyed by collaboration, so they vanish with it (``active_only``). A
    membership gone since the collaborations poll answers ResourceNotFound: it is
    skipped, as its series would vanish anyway. Any other error fails the whole poll.
    """
    results: dict[str, T] = {}
    for collaboration in context.active_collaborations():
        if not collaboration.membership_id:
            continue  # an ACTIVE summary always names its membership; nothing to ask otherwise
        try:
            results[collaboration.id] = fetch(collaboration)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            log.info("%s: membership %s is gone; skipped", operation, collaboration.membership_id)
    return results
