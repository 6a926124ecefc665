"""The ml_audience_exports collector: the account's audience export jobs, per account and region.

ListAudienceExportJobs (no fan-out: audiences belong to the account), every page: counts by
status, each failure counted once (the first poll a baseline) and by its bounded reason
(``statusDetails.statusCode``), the oldest in progress aged. An export can fail after the
audience generation job that produced it succeeded. Sample output::

    # TYPE cleanrooms_ml_audience_export_jobs gauge
    cleanrooms_ml_audience_export_jobs{account_id="1111",region="...",status="CREATE_FAILED"} 1
    # TYPE cleanrooms_ml_audience_export_jobs_failed_by_reason_total counter
    cleanrooms_ml_audience_export_jobs_failed_by_reason_total{...,reason="AccessDenied"} 1
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from exporter.collectors import export_jobs
from exporter.collectors.base import (
    AgeSpec,
    Calls,
    CollectorSpec,
    PollContext,
    Polling,
    Rendering,
    Shown,
    TargetData,
)
from exporter.collectors.paging import list_all
from exporter.collectors.status_counts import StatusFamilies, Tally, newly_counted, tally
from exporter.core.model import FAILED_WORK, FAILING, Finding, TargetKey
from exporter.core.series import OutputSettings, Samples, counter, gauge, label

log = logging.getLogger(__name__)

OPERATION = "ListAudienceExportJobs"
RULES = export_jobs.RULES


@dataclass(frozen=True, slots=True)
class AudienceExports:
    """The target's export jobs tallied, and its failures by reason since the baseline."""

    tally: Tally
    reasons: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    invalid_items: int = 0


def poll(context: PollContext) -> AudienceExports:
    """Every page of the account's audience export jobs: ⌈n / 100⌉ calls, at least one."""
    old = context.previous if isinstance(context.previous, AudienceExports) else None
    summaries, _ = list_all(context.client, OPERATION, "audienceExportJobs", {}, context.max_pages)
    items, invalid = export_jobs.parse(summaries, "audienceGenerationJobArn", ())
    if invalid:
        log.warning("skipped %d malformed audience export job summaries", invalid)
    before = old.tally if old is not None else None
    found = tally(RULES, items, before)
    by_id = {item.id: item for item in items}
    counted = old.reasons if old is not None else {}
    news = [by_id[i] for i in newly_counted(before, found)]
    reasons = export_jobs.count_reasons(counted, news, set(counted))
    return AudienceExports(found, reasons, invalid)


STATUS_FAMILIES = StatusFamilies(
    gauge(
        "cleanrooms_ml_audience_export_jobs",
        "Audience export jobs of the account by status.",
        "status",
    ),
    counter(
        "cleanrooms_ml_audience_export_jobs_failed",
        "Audience export jobs seen failed (CREATE_FAILED), each counted once; from 0 when the "
        "exporter starts watching the target.",
    ),
)
REASONS = counter(
    "cleanrooms_ml_audience_export_jobs_failed_by_reason",
    f"Audience export jobs seen failed, each counted once, by statusDetails.statusCode (at "
    f"most {export_jobs.MAX_REASONS} reasons per target, the rest as {export_jobs.OTHER}).",
    "reason",
)


def samples(item: TargetData[AudienceExports], _: OutputSettings, out: Samples) -> None:
    STATUS_FAMILIES.add(out, (), item.data.tally)
    for reason, number in item.data.reasons.items():
        out.add(REASONS, (label(reason),), number)


def _oldest(item: TargetData[AudienceExports]) -> list[tuple[tuple[str, ...], float | None]]:
    return [((), item.data.tally.oldest_in_progress)]


def findings(key: TargetKey, data: AudienceExports, _: float) -> list[Finding]:
    """Failed exports: the audience was generated, but never reached its destination."""
    failed = data.tally.counts.get("CREATE_FAILED", 0)
    if not failed:
        return []
    what = f"audience export jobs failed: {failed} in CREATE_FAILED"
    return [Finding(key, "", FAILING, what, kind=FAILED_WORK, weight=failed)]


SPEC: CollectorSpec[AudienceExports] = CollectorSpec(
    name="ml_audience_exports",
    doc="Clean Rooms ML audience export jobs of the account: by status, failed (by reason), "
    "oldest in progress.",
    order=125,
    polling=Polling(
        poll=poll,
        operations=(OPERATION,),
        calls=Calls("⌈AEJ / 100⌉, at least 1 (per target, no fan-out)", per_target=1),
        service="cleanroomsml",
    ),
    rendering=Rendering(
        families=(*STATUS_FAMILIES.families, REASONS),
        samples=samples,
        ages=(
            AgeSpec(
                "cleanrooms_ml_audience_export_job_oldest_in_progress_age_seconds",
                "Age of the oldest audience export job in CREATE_PENDING or "
                "CREATE_IN_PROGRESS; 0 when none.",
                (),
                _oldest,
            ),
        ),
    ),
    shown=Shown(findings=findings),
)
