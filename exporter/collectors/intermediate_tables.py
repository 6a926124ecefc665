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

from collections.abc import Sequence

from prometheus_client.core import Metric

from exporter.collectors import collaborations, resources
from exporter.collectors.base import (
    CollectorSpec,
    Fresh,
    OutputSettings,
    PollContext,
    Probe,
    epoch_seconds,
)
from exporter.collectors.collaborations import active_only
from exporter.core.families import COLLECTOR_POLLED, gauge, label
from exporter.core.model import AT_LIMIT, FAILED_WORK, FAILING, RUNNING_LOW, Finding, TargetKey

DAY = 86400.0
EXPIRING = 3 * DAY  # the status page lists a table whose data goes within this
KIND = resources.Kind(
    operation="ListIntermediateTables",
    list_key="intermediateTableSummaries",
    id_key="id",
    keep=("name", "retentionInDays", "updateTime"),
    noun="intermediate tables",
    statuses=(
        "CREATED",
        "POPULATE_STARTED",
        "POPULATE_SUCCESS",
        "POPULATE_FAILED",
        "DISALLOWED_BY_DATA_PROVIDER",
        "BASE_TABLE_REMOVED",
        "RETENTION_PERIOD_EXPIRED",
    ),
    failed=("POPULATE_FAILED",),
    counts_name="cleanrooms_intermediate_tables",
    failed_name="cleanrooms_intermediate_tables_failed",
    in_progress=("POPULATE_STARTED",),
)
# Statuses of a table that no analysis can read: the status page lists them as UNUSABLE.
CANNOT_BE_QUERIED = ("DISALLOWED_BY_DATA_PROVIDER", "BASE_TABLE_REMOVED")
UNUSABLE = "Tables that cannot be queried"  # the status page's kinds of finding
EXPIRES = "Table data expiring"


def expiry(resource: resources.Resource) -> float | None:
    """When the table's data goes: its last population (updateTime) plus retentionInDays."""
    days = resource.summary.get("retentionInDays")
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        return None
    since = epoch_seconds(resource.summary.get("updateTime")) or resource.created
    return since + days * DAY


def poll(context: PollContext) -> resources.ResourcesData:
    """One paged ListIntermediateTables per ACTIVE membership."""
    return resources.poll_memberships(KIND, context)


def families(fresh: Sequence[Fresh], _: OutputSettings) -> list[Metric]:
    """Counts by status, the failed counter, and each table's retention expiry."""
    expiries = gauge(
        "cleanrooms_intermediate_table_retention_expiry_timestamp_seconds",
        "When each intermediate table's data expires: its last population (updateTime) plus "
        "retentionInDays, Unix seconds.",
        (*resources.MEMBERSHIP_LABELS, "intermediate_table_id", "name"),
        polled=COLLECTOR_POLLED,
    )
    for item in fresh:
        data: resources.ResourcesData = item.data
        for collaboration_id, found in active_only(item, data.tallies):
            key = [*item.key, label(found.membership_id), label(collaboration_id)]
            for table in found.resources:
                when = expiry(table)
                if when is not None:
                    name = table.summary.get("name")
                    expiries.add_metric([*key, label(table.id), label(str(name or ""))], when)
    return [*resources.membership_families(KIND, fresh), expiries]


def findings(key: TargetKey, data: resources.ResourcesData, now: float) -> list[Finding]:
    """Tables that failed, that cannot be queried, and whose data expires within 3 days."""
    out = []
    for found in data.tallies.values():
        mid = found.membership_id
        failed = found.counts.get("POPULATE_FAILED", 0)
        if failed:
            what = f"intermediate tables: {failed} POPULATE_FAILED"
            out.append(Finding(key, mid, FAILING, what, kind=FAILED_WORK, weight=failed))
        unusable = [(s, found.counts.get(s, 0)) for s in CANNOT_BE_QUERIED if found.counts.get(s)]
        if unusable:
            what = f"intermediate tables: {', '.join(f'{n} {s}' for s, n in unusable)}"
            weight = sum(n for _, n in unusable)
            out.append(Finding(key, mid, FAILING, what, kind=UNUSABLE, weight=weight))
        for table in found.resources:
            when = expiry(table)
            if when is not None and now <= when < now + EXPIRING:
                # Retention working as designed: the data goes unless the table is repopulated.
                name = table.summary.get("name") or table.id
                what = f"intermediate table {name}: its data expires in {(when - now) / 3600:.0f}h"
                soon = EXPIRING - (when - now)  # the sooner, the worse
                out.append(Finding(key, mid, RUNNING_LOW, what, (), EXPIRES, AT_LIMIT, soon))
    return out


SPEC = CollectorSpec(
    name="intermediate_tables",
    doc="Intermediate tables of each ACTIVE membership: by status, failed, retention expiry.",
    operations=(KIND.operation,),
    default_enabled=False,
    default_interval=None,
    poll=poll,
    families=families,
    needs=collaborations.NAME,
    probe=Probe(lambda c: {"membershipIdentifier": c.membership_id}),
    findings=findings,
)
