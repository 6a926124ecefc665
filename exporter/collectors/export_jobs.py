"""What the Clean Rooms ML export collectors share: statuses, ids, and bounded failure reasons.

Audience export jobs (``ListAudienceExportJobs``) and trained model export jobs
(``ListCollaborationTrainedModelExportJobs``) have the same four statuses and carry no ARN
of their own: a job is named within what it exports, so its id here is that ARN, its name
and its ``createTime``. Why one failed is ``statusDetails``: its ``statusCode`` becomes a
``reason`` label, at most ``MAX_REASONS`` different ones per target, the rest ``other``, so
a partner's odd codes cannot blow up the series.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from exporter.collectors import listings
from exporter.collectors.status_counts import Item, StatusRules, parse_items

STATUSES = ("CREATE_PENDING", "CREATE_IN_PROGRESS", "CREATE_FAILED", "ACTIVE")
RULES = StatusRules(STATUSES, once=("CREATE_FAILED",), in_progress=listings.IN_PROGRESS)
MAX_REASONS = 20  # per target
OTHER = "other"
UNSPECIFIED = "unspecified"  # a failure whose statusDetails carries no statusCode


def parse(
    summaries: Iterable[Any], parent_key: str, keep: tuple[str, ...]
) -> tuple[list[Item], int]:
    """Items identified by ``parent_key`` (the ARN exported), name and createTime."""
    wanted = (parent_key, "statusDetails", *keep)
    items, invalid = parse_items(summaries, "name", wanted)
    found = []
    for item in items:
        parent = item.fields.get(parent_key)
        if not isinstance(parent, str) or not parent:
            invalid += 1
            continue
        found.append(replace(item, id=f"{parent}/{item.id}@{item.created:.3f}"))
    return found, invalid


def reason(item: Item) -> str:
    """The ``statusCode`` of a failed job's ``statusDetails``, or ``unspecified``."""
    details = item.fields.get("statusDetails")
    code = details.get("statusCode") if isinstance(details, Mapping) else None
    return code if isinstance(code, str) and code else UNSPECIFIED


def count_reasons(
    counted: Mapping[str, int], items: Iterable[Item], known: set[str]
) -> Mapping[str, int]:
    """``counted`` plus one per item by its bounded reason; ``known`` (the target's) grows."""
    out = dict(counted)
    for item in items:
        found = reason(item)
        if found not in known and len(known - {OTHER}) >= MAX_REASONS:
            found = OTHER
        known.add(found)
        out[found] = out.get(found, 0) + 1
    return MappingProxyType(dict(sorted(out.items())))
