"""The change_requests collector: PENDING change requests of every ACTIVE collaboration.

Sample output::

    # HELP cleanrooms_change_requests_pending Change requests waiting for approval, per ...
    # TYPE cleanrooms_change_requests_pending gauge
    cleanrooms_change_requests_pending{account_id="1111",collaboration_id="c1",region="..."} 1
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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
from exporter.collectors.collaborations import active_only, list_per_collaboration
from exporter.core.families import COLLECTOR_POLLED, TARGET_LABELS, gauge, label

log = logging.getLogger(__name__)

OPERATION = "ListCollaborationChangeRequests"


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
    times: list[float] = []
    invalid = 0
    for item in summaries:
        created = epoch_seconds(item.get("createTime")) if isinstance(item, Mapping) else None
        if created is None or not isinstance(item.get("status"), str):
            invalid += 1
        elif item["status"] == "PENDING":
            times.append(created)
    return Pending(len(times), min(times, default=None)), invalid


def families(fresh: Sequence[Fresh], settings: OutputSettings) -> list[Metric]:
    pending = gauge(
        "cleanrooms_change_requests_pending",
        "Change requests waiting for approval, per ACTIVE collaboration.",
        (*TARGET_LABELS, "collaboration_id"),
        polled=COLLECTOR_POLLED,
    )
    for item in fresh:
        data: ChangeRequestsData = item.data
        for collaboration_id, requests in active_only(item, dict(data.pending)):
            pending.add_metric([*item.key, label(collaboration_id)], requests.count)
    return [pending]


def _oldest(item: Fresh) -> list[tuple[tuple[str, ...], float | None]]:
    data: ChangeRequestsData = item.data
    return [((label(cid),), p.oldest) for cid, p in active_only(item, dict(data.pending))]


SPEC = CollectorSpec(
    name="change_requests",
    doc="Change requests waiting for approval in each ACTIVE collaboration, and the oldest's age.",
    operations=(OPERATION,),
    default_enabled=False,
    default_interval=None,
    needs=collaborations.NAME,
    probe=Probe(lambda c: {"collaborationIdentifier": c.id}),
    poll=poll,
    families=families,
    ages=(
        AgeSpec(
            "cleanrooms_change_request_oldest_pending_age_seconds",
            "Age of the oldest PENDING change request of each ACTIVE collaboration; 0 when none.",
            ("collaboration_id",),
            _oldest,
        ),
    ),
)
