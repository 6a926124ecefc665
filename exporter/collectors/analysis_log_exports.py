"""The analysis_log_exports collector: ListAnalysisLogExports of every ACTIVE membership.

Every page of each membership's analysis log exports, counted by status (``IN_PROGRESS``,
``SUCCESS``, ``FAILED``), each failure counted once (the first poll a baseline), the oldest
in progress aged. The list does not say why one failed: each newly failed export joins its
membership's backlog for one ``GetAnalysisLogExport`` (its ``error.code``), at most
``details_per_poll`` per membership and poll, as the analyses' details are fetched
(``details``). Sample output::

    # TYPE cleanrooms_analysis_log_exports gauge
    cleanrooms_analysis_log_exports{account_id="1111",...,membership_id="m1",status="FAILED"} 1
    # TYPE cleanrooms_analysis_log_export_errors_total counter
    cleanrooms_analysis_log_export_errors_total{...,error_code="AccessDenied"} 1
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from exporter.collectors import collaborations, details, listings
from exporter.collectors.base import (
    Calls,
    CollectorSpec,
    Option,
    PollContext,
    Polling,
    Probe,
    Rendering,
    Shown,
    TargetData,
)
from exporter.collectors.collaborations import MEMBERSHIP_LABELS, Collaboration, active_only
from exporter.collectors.paging import list_all
from exporter.collectors.status_counts import (
    StatusRules,
    Tally,
    newly_counted,
    parse_items,
    tally,
)
from exporter.core.model import Finding, TargetKey
from exporter.core.series import OutputSettings, Samples, counter, gauge, label

log = logging.getLogger(__name__)

KIND = listings.ListedKind(
    operation="ListAnalysisLogExports",
    list_key="analysisLogExports",
    id_key="analysisLogExportId",
    noun="analysis log exports",
    rules=StatusRules(
        ("IN_PROGRESS", "SUCCESS", "FAILED"), once=("FAILED",), in_progress=("IN_PROGRESS",)
    ),
    counts_name="cleanrooms_analysis_log_exports",
    failed_name="cleanrooms_analysis_log_exports_failed",
    oldest_name="cleanrooms_analysis_log_export_oldest_in_progress_age_seconds",
)
GET = details.Get("GetAnalysisLogExport", "analysisLogExportIdentifier", "analysisLogExport")
DETAILS = Option(
    "details", "bool", 1.0, "GetAnalysisLogExport once per newly failed export, for its error."
)
DETAILS_PER_POLL = Option(
    "details_per_poll", "count", 20.0, "At most this many GetAnalysisLogExport per membership."
)


@dataclass(frozen=True, slots=True)
class LogExports:
    """One membership's log exports tallied, and the Gets of the newly failed ones."""

    membership_id: str
    tally: Tally
    details: details.Details = field(default_factory=details.Details)


@dataclass(frozen=True, slots=True)
class LogExportsData:
    per_collaboration: Mapping[str, LogExports] = field(
        default_factory=lambda: MappingProxyType({})
    )
    invalid_items: int = 0


def poll(context: PollContext) -> LogExportsData:
    """Per ACTIVE membership: every page, then at most ``details_per_poll`` Gets."""
    previous = context.previous if isinstance(context.previous, LogExportsData) else None
    fetching = bool(context.options.get("details", DETAILS.default))
    per_poll = int(context.options.get("details_per_poll", DETAILS_PER_POLL.default))
    invalid = 0

    def fetch(collaboration: Collaboration, old: LogExports | None) -> LogExports:
        nonlocal invalid
        membership = collaboration.membership_id
        summaries, _ = list_all(
            context.client,
            KIND.operation,
            KIND.list_key,
            {"membershipIdentifier": membership},
            context.max_pages,
        )
        items, bad = parse_items(summaries, KIND.id_key)
        invalid += bad
        before = old.tally if old is not None else None
        found = tally(KIND.rules, items, before)
        got = old.details if old is not None else details.Details()
        if fetching:
            failed = [(i, found.seen[i]) for i in newly_counted(before, found)]
            waiting = details.queue(got, sorted(failed, key=lambda f: (f[1], f[0])))
            got = details.fetch(
                context.client, GET, membership, waiting, per_poll=per_poll, durations={}
            )
        return LogExports(membership, found, got)

    earlier = previous.per_collaboration if previous is not None else {}
    listed = collaborations.each_membership(context, KIND.operation, earlier, fetch)
    if invalid:
        log.warning("skipped %d malformed analysis log export summaries", invalid)
    return LogExportsData(MappingProxyType(listed), invalid)


STATUS_FAMILIES = listings.membership_families(KIND)
ERRORS = counter(
    "cleanrooms_analysis_log_export_errors",
    f"FAILED analysis log exports by error.code, from one GetAnalysisLogExport each (at most "
    f"{details.MAX_ERROR_CODES} codes per membership, the rest as {details.OTHER_CODE}).",
    *MEMBERSHIP_LABELS,
    "error_code",
)
BACKLOG = gauge(
    "cleanrooms_analysis_log_export_details_backlog",
    "Analysis log exports seen failed but not yet fetched for their error code.",
    *MEMBERSHIP_LABELS,
)
DROPPED = counter(
    "cleanrooms_analysis_log_export_details_dropped",
    "Failed analysis log exports whose GetAnalysisLogExport was given up, by reason.",
    *MEMBERSHIP_LABELS,
    "reason",
)


def samples(item: TargetData[LogExportsData], _: OutputSettings, out: Samples) -> None:
    for collaboration_id, found in active_only(item, item.data.per_collaboration):
        where = (label(found.membership_id), label(collaboration_id))
        STATUS_FAMILIES.add(out, where, found.tally)
        for code, number in sorted(_by_code(found.details.errors).items()):
            out.add(ERRORS, (*where, label(code)), number)
        out.add(BACKLOG, where, len(found.details.backlog))
        for reason, number in sorted(found.details.dropped.items()):
            out.add(DROPPED, (*where, reason), number)


def _by_code(errors: Mapping[tuple[str, str], int]) -> dict[str, int]:
    """Error codes summed over retryable: a log export's error does not say."""
    codes: dict[str, int] = {}
    for (code, _), number in errors.items():
        codes[code] = codes.get(code, 0) + number
    return codes


def findings(key: TargetKey, data: LogExportsData, now: float) -> list[Finding]:
    return [
        f
        for found in data.per_collaboration.values()
        for f in listings.failed_findings(KIND, key, found.membership_id, found.tally, now)
    ]


SPEC: CollectorSpec[LogExportsData] = CollectorSpec(
    name="analysis_log_exports",
    doc="Analysis log exports of each ACTIVE membership: by status, failed (with the error "
    "code of each), oldest in progress.",
    order=65,
    polling=Polling(
        poll=poll,
        operations=(KIND.operation, GET.operation),
        calls=Calls(
            "Σ over ACTIVE memberships of ⌈E / 100⌉, at least 1 each (E = analysis log "
            "exports), plus min(B, `details_per_poll`) Gets (B = newly failed ones waiting "
            "for their error code)",
            per_active=1,
        ),
        options=(DETAILS, DETAILS_PER_POLL),
        fans_out_from=collaborations.NAME,
    ),
    rendering=Rendering(
        families=(*STATUS_FAMILIES.families, ERRORS, BACKLOG, DROPPED),
        samples=samples,
        ages=(listings.oldest_in_progress(KIND),),
    ),
    shown=Shown(
        probe=Probe(lambda c: {"membershipIdentifier": c.membership_id}),
        findings=findings,
    ),
)
