"""The change_requests collector: PENDING change requests of every ACTIVE collaboration.

Sample output::

    # HELP cleanrooms_change_requests_pending Change requests waiting for approval, per ...
    # TYPE cleanrooms_change_requests_pending gauge
    cleanrooms_change_requests_pending{account_id="1111",collaboration_id="c1",region="..."} 1
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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
from exporter.collectors.collaborations import active_only, list_per_collaboration
from exporter.collectors.status_counts import StatusRules, parse_items, tally
from exporter.core.series import OutputSettings, Samples, gauge, label

log = logging.getLogger(__name__)

OPERATION = "ListCollaborationChangeRequests"
# Only PENDING ones are listed; they are what is "in progress", aged from the oldest.
PENDING = StatusRules(("PENDING",), in_progress=("PENDING",))


@dataclass(frozen=True, slots=True)
class Pending:
    """The PENDING change requests of one collaboration."""

    count: int
    oldest: float | None  # createTime of the oldest, Unix seconds


@dataclass(frozen=True, slots=True)
class ChangeRequestsData:
    """Pending change requests per ACTIVE collaboration id."""

    pending: Mapping[str, Pending]
    invalid_items: int = 0


def poll(context: PollContext) -> ChangeRequestsData:
    """One paged ListCollaborationChangeRequests(status=PENDING) per ACTIVE collaboration."""
    listed = list_per_collaboration(
        context, OPERATION, "collaborationChangeRequestSummaries", {"status": "PENDING"}
    )
    pending: dict[str, Pending] = {}
    invalid = 0
    for collaboration_id, summaries in listed.items():
        pending[collaboration_id], bad = summarize(summaries)
        invalid += bad
    if invalid:
        log.warning("skipped %d malformed change request summaries", invalid)
    return ChangeRequestsData(pending, invalid)


def summarize(summaries: Iterable[Any]) -> tuple[Pending, int]:
    """Count PENDING requests (the filter is applied again: a fake or proxy may ignore it)."""
    items, invalid = parse_items(summaries, "id")
    found = tally(PENDING, (i for i in items if i.status == "PENDING"), None)
    return Pending(found.in_progress, found.oldest_in_progress), invalid


PENDING_COUNT = gauge(
    "cleanrooms_change_requests_pending",
    "Change requests waiting for approval, per ACTIVE collaboration.",
    "collaboration_id",
)


def samples(item: TargetData[ChangeRequestsData], _: OutputSettings, out: Samples) -> None:
    for collaboration_id, requests in active_only(item, item.data.pending):
        out.add(PENDING_COUNT, (label(collaboration_id),), requests.count)


def _oldest(item: TargetData[ChangeRequestsData]) -> list[tuple[tuple[str, ...], float | None]]:
    return [((label(cid),), p.oldest) for cid, p in active_only(item, item.data.pending)]


SPEC: CollectorSpec[ChangeRequestsData] = CollectorSpec(
    name="change_requests",
    doc="Change requests waiting for approval in each ACTIVE collaboration, and the oldest's age.",
    order=40,
    polling=Polling(
        poll=poll,
        operations=(OPERATION,),
        calls=Calls(
            "Σ over ACTIVE collaborations of ⌈pending requests / 100⌉, at least 1 each",
            per_active=1,
        ),
        fans_out_from=collaborations.NAME,
    ),
    rendering=Rendering(
        families=(PENDING_COUNT,),
        samples=samples,
        ages=(
            AgeSpec(
                "cleanrooms_change_request_oldest_pending_age_seconds",
                "Age of the oldest PENDING change request of each ACTIVE collaboration; "
                "0 when none.",
                ("collaboration_id",),
                _oldest,
            ),
        ),
    ),
    shown=Shown(probe=Probe(lambda c: {"collaborationIdentifier": c.id})),
)
