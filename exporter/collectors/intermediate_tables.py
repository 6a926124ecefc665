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
from exporter.core import model
from exporter.core.model import AT_LIMIT, FAILED_WORK, FAILING, RUNNING_LOW, Finding, TargetKey
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
# Statuses of a table that no analysis can read: the status page lists them as UNUSABLE.
CANNOT_BE_QUERIED = ("DISALLOWED_BY_DATA_PROVIDER", "BASE_TABLE_REMOVED")
UNUSABLE = model.UNUSABLE  # the status page's kinds of finding
EXPIRES = "Table data expiring"
STATUS_FAMILIES = listings.membership_families(KIND)
EXPIRY = gauge(
    "cleanrooms_intermediate_table_retention_expiry_timestamp_seconds",
    "When each intermediate table's data expires: its last population (updateTime) plus "
    "retentionInDays, Unix seconds.",
    *MEMBERSHIP_LABELS,
    "intermediate_table_id",
    "name",
    fold="min",  # folded per membership or coarser: the soonest expiry
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
    """Tables that failed, that cannot be queried, and whose data expires within 3 days."""
    out = []
    for found in data.per_collaboration.values():
        out += _table_findings(key, found, now)
    return out


def _table_findings(key: TargetKey, found: listings.Listed, now: float) -> list[Finding]:
    mid, counts = found.membership_id, found.tally.counts
    out = []
    failed = counts.get("POPULATE_FAILED", 0)
    if failed:
        what = f"intermediate tables: {failed} POPULATE_FAILED"
        out.append(Finding(key, mid, FAILING, what, kind=FAILED_WORK, weight=failed))
    unusable = [(s, counts.get(s, 0)) for s in CANNOT_BE_QUERIED if counts.get(s)]
    if unusable:
        what = f"intermediate tables: {', '.join(f'{n} {s}' for s, n in unusable)}"
        weight = sum(n for _, n in unusable)
        out.append(Finding(key, mid, FAILING, what, kind=UNUSABLE, weight=weight))
    for table in found.items:
        when = expiry(table)
        if when is not None and now <= when < now + EXPIRING:
            # Retention working as designed: the data goes unless the table is repopulated.
            name = table.fields.get("name") or table.id
            what = f"intermediate table {name}: its data expires in {(when - now) / 3600:.0f}h"
            soon = EXPIRING - (when - now)  # the sooner, the worse
            out.append(Finding(key, mid, RUNNING_LOW, what, (), EXPIRES, AT_LIMIT, soon))
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
