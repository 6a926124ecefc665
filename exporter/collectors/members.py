"""The members collector: ListMembers of every ACTIVE collaboration, counted by member status.

Sample output::

    # HELP cleanrooms_collaboration_members Members of each ACTIVE collaboration by status. ...
    # TYPE cleanrooms_collaboration_members gauge
    cleanrooms_collaboration_members{account_id="1111",collaboration_id="c1",...,status="LEFT"} 1
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from exporter.collectors import collaborations
from exporter.collectors.base import (
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
from exporter.collectors.status_counts import StatusRules, count
from exporter.core.series import OutputSettings, Samples, gauge, label

log = logging.getLogger(__name__)

OPERATION = "ListMembers"
STATUSES = StatusRules(collaborations.MEMBER_STATUSES)


@dataclass(frozen=True, slots=True)
class MembersData:
    """Member counts by status, per ACTIVE collaboration id."""

    counts: Mapping[str, Mapping[str, int]]
    invalid_items: int = 0


def poll(context: PollContext) -> MembersData:
    """One paged ListMembers per ACTIVE collaboration: sum of ceil(members/100), at least 1 each."""
    listed = list_per_collaboration(context, OPERATION, "memberSummaries", {})
    counts: dict[str, Mapping[str, int]] = {}
    invalid = 0
    for collaboration_id, summaries in listed.items():
        counts[collaboration_id], bad = count_statuses(summaries)
        invalid += bad
    if invalid:
        log.warning("skipped %d malformed member summaries", invalid)
    return MembersData(counts, invalid)


def count_statuses(summaries: Iterable[Any]) -> tuple[dict[str, int], int]:
    """Counts by status (the four known ones always present) and the malformed summaries."""
    statuses: list[str] = []
    invalid = 0
    for item in summaries:
        status = item.get("status") if isinstance(item, Mapping) else None
        if isinstance(status, str) and status and isinstance(item.get("accountId"), str):
            statuses.append(status)
        else:
            invalid += 1
    return count(STATUSES, statuses), invalid


MEMBERS = gauge(
    "cleanrooms_collaboration_members",
    "Members of each ACTIVE collaboration by status.",
    "collaboration_id",
    "status",
    values=(("status", STATUSES.statuses),),
)


def samples(item: TargetData[MembersData], _: OutputSettings, out: Samples) -> None:
    for collaboration_id, counts in active_only(item, item.data.counts):
        for status, number in counts.items():
            out.add(MEMBERS, (label(collaboration_id), label(status)), number)


SPEC: CollectorSpec[MembersData] = CollectorSpec(
    name="members",
    doc="Members of each ACTIVE collaboration by status: partners who left or were removed.",
    order=30,
    polling=Polling(
        poll=poll,
        operations=(OPERATION,),
        calls=Calls(
            "Σ over ACTIVE collaborations of ⌈members / 100⌉, at least 1 each", per_active=1
        ),
        fans_out_from=collaborations.NAME,
    ),
    rendering=Rendering(families=(MEMBERS,), samples=samples),
    shown=Shown(probe=Probe(lambda c: {"collaborationIdentifier": c.id})),
)
