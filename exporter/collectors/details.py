"""Analysis details: one Get per analysis first seen finished, for what the list does not carry.

The list calls give status and createTime; what an analysis cost (billed CRPU-hours), how
long it ran and why it failed live only in ``GetProtectedQuery`` / ``GetProtectedJob``.
Each analysis the finished counters count (first seen terminal, never at the baseline
poll) joins its membership's backlog; each poll fetches at most ``details_per_poll`` of
them, oldest first, so a burst never exceeds the API rate quota. A Get that fails is
tried again on the next polls, ``MAX_ATTEMPTS`` in all, then dropped and counted by
reason; the list part of the collector stays up whatever the Gets answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from exporter.collectors.base import Client, Option
from exporter.collectors.collaborations import MEMBERSHIP_LABELS
from exporter.core.errors import REFUSED, ApiError
from exporter.core.histogram import Histogram
from exporter.core.series import Family, Samples, counter, gauge, label

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # a Get that failed this often is dropped
MAX_ERROR_CODES = 20  # per membership: a partner's odd codes must not blow up cardinality
OTHER_CODE = "other"
MAX_BACKLOG = 10_000  # per membership; beyond it the oldest waiting analyses are dropped
# Seconds. Clean Rooms analyses take from tens of seconds (a small SQL query) to hours (a
# PySpark job over large tables); the bounds double from 10 s to 4 h.
DURATION_BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0)
# AWS reports billed CRPU-hours; the counters are in Prometheus' base unit, CRPU-seconds.
SECONDS_PER_HOUR = 3600.0
UNKNOWN = "unknown"  # retryable, when the error does not say
REASONS = {
    "AccessDeniedException": "access_denied",
    "AccessDenied": "access_denied",
    "ResourceNotFoundException": "not_found",
    "ThrottlingException": "throttled",
    "TooManyRequestsException": "throttled",
    "HTTP429": "throttled",
    REFUSED: "invalid_request",
}
STOP_CODES = frozenset({"access_denied", "throttled"})  # the next Gets would fail alike
# A request botocore refuses to send (an id off the model) is refused again: dropped at once.
FINAL_CODES = frozenset({"invalid_request"})

DETAILS = Option(
    "details", "bool", 1.0, "Fetch each finished analysis once for its cost, duration, error."
)
DETAILS_PER_POLL = Option(
    "details_per_poll", "count", 50.0, "At most this many Gets per membership per poll."
)


def _empty() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Waiting:
    """An analysis that finished and waits for its Get."""

    id: str
    attempts: int = 0  # Gets of it that failed so far
    created: float = 0.0  # its createTime: what it cost counts in the window it was made


@dataclass(frozen=True, slots=True)
class Details:
    """One membership's details: what waits for its Get, and what the Gets found so far."""

    backlog: tuple[Waiting, ...] = ()
    billed: Mapping[str, float] = field(default_factory=_empty)  # CRPU-hours by status
    # FAILED ones by (error code, retryable: "true", "false" or "unknown").
    errors: Mapping[tuple[str, str], int] = field(default_factory=_empty)
    dropped: Mapping[str, int] = field(default_factory=_empty)  # Gets given up, by reason
    # (createTime, CRPU-hours) of the ones fetched that were created within lookback: what
    # the status page sums per collaboration. Pruned with the finished ids, so bounded.
    recent: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Found:
    """What one Get told: the analysis' status, billed units, duration, error code."""

    status: str
    units: float | None
    seconds: float | None
    error_code: str | None
    # error.retry.retryable as a label value: "true", "false", or "unknown" when AWS
    # left it out (or sent something else).
    retryable: str = UNKNOWN


@dataclass(frozen=True)
class Get:
    """How to fetch one kind of analysis: ``GetProtectedQuery`` and its names."""

    operation: str
    id_param: str  # protectedQueryIdentifier
    answer_key: str  # protectedQuery


Durations = dict[str, Histogram]


def queue(details: Details, finished: list[tuple[str, float]], cutoff: float = 0.0) -> Details:
    """Add (id, createTime) of the analyses that just finished to the backlog, oldest first;
    bounded. What was fetched and created before ``cutoff`` leaves ``recent``."""
    recent = tuple(r for r in details.recent if r[0] >= cutoff)
    details = replace(details, recent=recent)
    backlog = (*details.backlog, *(Waiting(i, 0, created) for i, created in finished))
    overflow = len(backlog) - MAX_BACKLOG
    if overflow <= 0:
        return replace(details, backlog=backlog)
    log.warning("details backlog full: %d finished analyses dropped unfetched", overflow)
    dropped = _bump(details.dropped, "backlog_full", overflow)
    return replace(details, backlog=backlog[overflow:], dropped=dropped)


def fetch(
    client: Client,
    get: Get,
    membership_id: str,
    details: Details,
    *,
    per_poll: int,
    durations: Durations,
) -> Details:
    """At most ``per_poll`` Gets from the front of the backlog; ``durations`` is updated.

    An analysis whose Get failed keeps its place for the next poll (until ``MAX_ATTEMPTS``),
    unless botocore refused to send it (dropped at once: it would be refused again); a
    denial or a throttle ends this poll's Gets, as the next ones would meet the same.
    """
    kept: list[Waiting] = []
    state, tried = details, 0
    for waiting in details.backlog[:per_poll]:
        tried += 1
        try:
            found = _get(client, get, membership_id, waiting.id)
        except (ApiError, _Invalid) as err:
            reason = _reason(err)
            if waiting.attempts + 1 >= MAX_ATTEMPTS or reason in FINAL_CODES:
                state = replace(state, dropped=_bump(state.dropped, reason))
            else:
                kept.append(Waiting(waiting.id, waiting.attempts + 1, waiting.created))
            if reason in STOP_CODES:
                break
            continue
        state = _record(state, found, durations)
        if found.units is not None:
            state = replace(state, recent=(*state.recent, (waiting.created, found.units)))
    return replace(state, backlog=(*kept, *details.backlog[tried:]))


class _Invalid(Exception):
    """A Get answered with something that is not an analysis."""


def _get(client: Client, get: Get, membership_id: str, analysis_id: str) -> Found:
    params = {"membershipIdentifier": membership_id, get.id_param: analysis_id}
    try:
        answer = client.call(get.operation, **params)
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        # botocore's parser raises these on bodies that do not fit the API's shape.
        raise _Invalid(str(err)) from err
    found = parse(answer.get(get.answer_key) if isinstance(answer, Mapping) else None)
    if found is None:
        raise _Invalid(f"{get.operation}: no {get.answer_key} in the answer")
    return found


def parse(item: Any) -> Found | None:
    """The fields of one analysis the metrics use; None when its status is missing."""
    if not isinstance(item, Mapping) or not isinstance(item.get("status"), str):
        return None
    statistics = _mapping(item.get("statistics"))
    units = _number(_mapping(statistics.get("billedResourceUtilization")).get("units"))
    millis = _number(statistics.get("totalDurationInMillis"))
    error = _mapping(item.get("error"))
    code = error.get("code")
    return Found(
        item["status"],
        units,
        millis / 1000.0 if millis is not None else None,
        code if isinstance(code, str) and code else None,
        _retryable(_mapping(error.get("retry")).get("retryable")),
    )


def _retryable(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return UNKNOWN


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _number(value: Any) -> float | None:
    """A non-negative number from the answer, or None when absent or malformed."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def _record(details: Details, found: Found, durations: Durations) -> Details:
    billed, errors = details.billed, details.errors
    if found.units is not None:
        billed = _bump(billed, found.status, found.units)
    if found.status == "FAILED" and found.error_code is not None:
        code = found.error_code
        codes = {c for c, _ in errors}
        if code not in codes and len(codes) >= MAX_ERROR_CODES + (OTHER_CODE in codes):
            code = OTHER_CODE
        errors = _bump(errors, (code, found.retryable))
    if found.seconds is not None:
        before = durations.get(found.status) or Histogram.empty(DURATION_BUCKETS)
        durations[found.status] = before.add(found.seconds)
    return replace(details, billed=billed, errors=errors)


def _reason(err: Exception) -> str:
    if isinstance(err, ApiError):
        return REASONS.get(err.code, "error")
    return "invalid_response"


def _bump(counts: Mapping[Any, Any], key: Any, by: float = 1) -> Mapping[Any, Any]:
    return MappingProxyType({**counts, key: counts.get(key, 0) + by})


# Shared by queries and jobs, labelled by collector: one family in the exposition.
BACKLOG = gauge(
    "cleanrooms_analysis_details_backlog",
    "Analyses finished but not yet fetched for their details.",
    *MEMBERSHIP_LABELS,
    "collector",
)
DROPPED = counter(
    "cleanrooms_analysis_details_dropped",
    "Finished analyses whose details were given up, by reason.",
    *MEMBERSHIP_LABELS,
    "collector",
    "reason",
)


@dataclass(frozen=True)
class DetailFamilies:
    """One kind of analysis' detail families: its collector, and families named by a prefix."""

    collector: str  # protected_queries
    terminal: tuple[str, ...]
    billed: Family
    durations: Family
    errors: Family

    @classmethod
    def named(
        cls, collector: str, prefix: str, noun: str, terminal: tuple[str, ...]
    ) -> DetailFamilies:
        """``prefix`` (cleanrooms_protected_query) names them, ``noun`` (queries) helps."""
        return cls(
            collector,
            terminal,
            counter(
                f"{prefix}_billed_crpu_seconds",
                f"Billed CRPU-seconds (AWS's CRPU-hours x 3600) of protected {noun} fetched "
                "once finished, by status.",
                *MEMBERSHIP_LABELS,
                "status",
            ),
            Family(
                f"{prefix}_duration_seconds",
                "histogram",
                f"Duration (totalDurationInMillis) of protected {noun} fetched once finished, "
                "by status.",
                ("status",),
            ),
            counter(
                f"{prefix}_errors",
                f"FAILED protected {noun} by error code (at most {MAX_ERROR_CODES} codes per "
                f"membership, the rest as {OTHER_CODE}), and whether AWS marks the error "
                "retryable (error.retry.retryable: true, false, or unknown when not sent).",
                *MEMBERSHIP_LABELS,
                "error_code",
                "retryable",
            ),
        )

    @property
    def families(self) -> tuple[Family, ...]:
        return (self.billed, self.durations, self.errors, BACKLOG, DROPPED)

    def add(self, out: Samples, key: tuple[str, ...], found: Details) -> None:
        """One membership's billed units, error codes, backlog and drops."""
        for status in sorted({*self.terminal, *found.billed}):
            hours = found.billed.get(status, 0.0)
            out.add(self.billed, (*key, label(status)), hours * SECONDS_PER_HOUR)
        for (code, retryable), number in sorted(found.errors.items()):
            out.add(self.errors, (*key, label(code), retryable), number)
        out.add(BACKLOG, (*key, self.collector), len(found.backlog))
        for reason, number in sorted(found.dropped.items()):
            out.add(DROPPED, (*key, self.collector, reason), number)

    def add_durations(self, out: Samples, durations: Mapping[str, Histogram]) -> None:
        """The target's durations by status (kept per target, so none falls with a membership)."""
        for status, histogram in sorted(durations.items()):
            out.add(self.durations, (label(status),), (histogram.cumulative(), histogram.total))
