"""The members collector: ListMembers of every ACTIVE collaboration, counted by member status.

Sample output::

    # HELP cleanrooms_collaboration_members Members of each ACTIVE collaboration by status. ...
    # TYPE cleanrooms_collaboration_members gauge
    cleanrooms_collaboration_members{account_id="1111",collaboration_id="c1",...,status="LEFT"} 1
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import Metric

from exporter.collectors import collaborations
from exporter.collectors.base import (
    CollectorSpec,
    Fresh,
    OutputSettings,
    PollContext,
    Probe,
)
from exporter.collectors.collaborations import active_only, list_per_collaboration
from exporter.core.families import COLLECTOR_POLLED, TARGET_LABELS, gauge, label

log = logging.getLogger(__name__)

OPERATION = "ListMembers"


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
    counts: Counter[str] = Counter()
    invalid = 0
    for item in summaries:
        status = item.get("status") if isinstance(item, Mapping) else None
        if isinstance(status, str) and status and isinstance(item.get("accountId"), str):
            counts[status] += 1
        else:
            invalid += 1
    for status in collaborations.MEMBER_STATUSES:
        counts.setdefault(status, 0)
    return dict(sorted(counts.items())), invalid


def families(fresh: Sequence[Fresh], settings: OutputSettings) -> list[Metric]:
    members = gauge(
        "cleanrooms_collaboration_members",
        "Members of each ACTIVE collaboration by status.",
        (*TARGET_LABELS, "collaboration_id", "status"),
        polled=COLLECTOR_POLLED,
    )
    for item in fresh:
        data: MembersData = item.data
        for collaboration_id, counts in active_only(item, dict(data.counts)):
            for status, count in counts.items():
                members.add_metric([*item.key, label(collaboration_id), label(status)], count)
    return [members]


SPEC = CollectorSpec(
    name="members",
    doc="Members of each ACTIVE collaboration by status: partners who left or were removed.",
    operations=(OPERATION,),
    default_enabled=False,
    default_interval=None,
    needs=collaborations.NAME,
    poll=poll,
    families=families,
    probe=Probe(lambda c: {"collaborationIdentifier": c.id}),
)
