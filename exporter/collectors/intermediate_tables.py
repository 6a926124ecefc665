"""The intermediate_tables collector: ListIntermediateTables of every ACTIVE membership.

Sample output::

    # TYPE cleanrooms_intermediate_tables gauge
    cleanrooms_intermediate_tables{...,membership_id="m1",status="POPULATE_FAILED"} 1
    # TYPE cleanrooms_intermediate_table_retention_expiry_timestamp_seconds gauge
    cleanrooms_intermediate_table_retention_expiry_timestamp_seconds{...,name="daily"} 1.8e+09

The expiry is the table's ``updateTime`` plus ``retentionInDays``: AWS documents the
retention period as how long a table's data is kept, and each population writes the data
anew and moves ``updateTime``, so the last population (not the creation) starts the clock;
for a table never populated the two times are the same.
"""

from __future__ import annotations

from exporter.collectors import collaborations, listings
from exporter.collectors.base import (
    Calls,
    CollectorSpec,
    PollContext,
    Polling,
    Probe,
    Rendering,
    Shown,
    TargetData,
    epoch_seconds,
)
from exporter.collectors.collaborations import MEMBERSHIP_LABELS, active_only
from exporter.collectors.status_counts import Item, StatusRules
from exporter.core.model import FAILING, RUNNING_LOW, Finding, TargetKey
from exporter.core.series import OutputSettings, Samples, gauge, label

DAY = 86400.0
EXPIRING = 3 * DAY  # the status page lists a table whose data goes within this
KIND = listings.ListedKind(
    operation="ListIntermediateTables",
    list_key="intermediateTableSummaries",
    id_key="id",
    kept_fields=("name", "retentionInDays", "updateTime"),
    noun="intermediate tables",
    rules=StatusRules(
        (
            "CREATED",
            "POPULATE_STARTED",
            "POPULATE_SUCCESS",
            "POPULATE_FAILED",
            "DISALLOWED_BY_DATA_PROVIDER",
            "BASE_TABLE_REMOVED",
            "RETENTION_PERIOD_EXPIRED",
        ),
        once=("POPULATE_FAILED",),
        in_progress=("POPULATE_STARTED",),
    ),
    counts_name="cleanrooms_intermediate_tables",
    failed_name="cleanrooms_intermediate_tables_failed",
)
PROBLEMS = ("POPULATE_FAILED", "DISALLOWED_BY_DATA_PROVIDER", "BASE_TABLE_REMOVED")
STATUS_FAMILIES = listings.membership_families(KIND)
EXPIRY = gauge(
    "cleanrooms_intermediate_table_retention_expiry_timestamp_seconds",
    "When each intermediate table's data expires: its last population (updateTime) plus "
    "retentionInDays, Unix seconds.",
    *MEMBERSHIP_LABELS,
    "intermediate_table_id",
    "name",
)


def expiry(table: Item) -> float | None:
    """When the table's data goes: its last population (updateTime) plus retentionInDays."""
    days = table.fields.get("retentionInDays")
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        return None
    since = epoch_seconds(table.fields.get("updateTime")) or table.created
    return since + days * DAY


def poll(context: PollContext) -> listings.ListingsData:
    """One paged ListIntermediateTables per ACTIVE membership."""
    return listings.poll_memberships(KIND, context)


def samples(item: TargetData[listings.ListingsData], _: OutputSettings, out: Samples) -> None:
    """Counts by status, the failed counter, and each table's retention expiry."""
    listings.membership_samples(STATUS_FAMILIES, item, out)
    for collaboration_id, found in active_only(item, item.data.per_collaboration):
        key = (label(found.membership_id), label(collaboration_id))
        for table in found.items:
            when = expiry(table)
            if when is not None:
                name = label(str(table.fields.get("name") or ""))
                out.add(EXPIRY, (*key, label(table.id), name), when)


def findings(key: TargetKey, data: listings.ListingsData, now: float) -> list[Finding]:
    """Tables that failed, were disallowed or lost their base table; tables about to expire."""
    out = []
    for found in data.per_collaboration.values():
        counts = found.tally.counts
        problems = [f"{counts[s]} {s}" for s in PROBLEMS if counts.get(s)]
        if problems:
            what = f"intermediate tables: {', '.join(problems)}"
            out.append(Finding(key, found.membership_id, FAILING, what))
        for table in found.items:
            when = expiry(table)
            if when is not None and now <= when < now + EXPIRING:
                name = table.fields.get("name") or table.id
                what = f"intermediate table {name} expires in {(when - now) / 3600:.0f}h"
                out.append(Finding(key, found.membership_id, RUNNING_LOW, what))
    return out


SPEC: CollectorSpec[listings.ListingsData] = CollectorSpec(
    name="intermediate_tables",
    doc="Intermediate tables of each ACTIVE membership: by status, failed, retention expiry.",
    order=80,
    polling=Polling(
        poll=poll,
        operations=(KIND.operation,),
        calls=Calls(
            "Σ over ACTIVE memberships of ⌈T / 100⌉, at least 1 each (T = intermediate tables)",
            per_active=1,
        ),
        fans_out_from=collaborations.NAME,
    ),
    rendering=Rendering(families=(*STATUS_FAMILIES.families, EXPIRY), samples=samples),
    shown=Shown(
        probe=Probe(lambda c: {"membershipIdentifier": c.membership_id}), findings=findings
    ),
)
