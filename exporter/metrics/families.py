"""Metric families built from target states and API tallies: pure functions, no clocks.

Each per-target builder works on any list of states, so the collector can build
a family from every target at once and the scrape renderer from one target at a
time (and cache that target's lines until its state changes).
"""

from __future__ import annotations

import platform
from collections.abc import Collection, Iterable, Mapping

import boto3
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)

from exporter import __version__
from exporter.core.model import TargetKey, TargetState
from exporter.core.stats import ApiStatsView, TargetApiCounts

LABEL_VALUE_LIMIT = 256  # characters; AWS names are user input and may be huge
POLLED = "Polled in the background every poll_interval, not at scrape time."
# The other collectors poll on their own interval.
COLLECTOR_POLLED = "Polled in the background on the collector's own interval, not at scrape time."
TARGET_LABELS = ("account_id", "region")


def label(value: str) -> str:
    """A safe label value: valid UTF-8 (lone surrogates replaced) and at most 256 characters."""
    safe = value.encode("utf-8", "replace").decode("utf-8")
    if len(safe) > LABEL_VALUE_LIMIT:
        return safe[: LABEL_VALUE_LIMIT - 1] + "\u2026"
    return safe


def gauge(
    name: str, doc: str, labels: tuple[str, ...] = TARGET_LABELS, polled: str = POLLED
) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, f"{doc} {polled}", labels=list(labels))


def counter(name: str, doc: str, labels: tuple[str, ...] = TARGET_LABELS) -> CounterMetricFamily:
    return CounterMetricFamily(
        name, f"{doc} Counted by the background poller.", labels=list(labels)
    )


def account_info(states: Iterable[TargetState]) -> Metric:
    family = InfoMetricFamily(
        "cleanrooms_account",
        "Configured accounts and their aliases, value 1.",
        labels=["account_id"],
    )
    names: dict[str, str] = {}
    for state in states:
        names.setdefault(state.target.account_id, state.target.account_name)
    for account_id, name in sorted(names.items()):
        family.add_metric([account_id], {"account_name": label(name)})
    return family


def health_families(states: Iterable[TargetState]) -> list[Metric]:
    """Polling health of every target; these depend on the state alone, not on the clock."""
    up = gauge("cleanrooms_target_up", "1 if the last poll of the target succeeded, else 0.")
    success = gauge(
        "cleanrooms_target_last_success_timestamp_seconds",
        "Unix time of the last successful poll; 0 if none yet.",
    )
    duration = gauge(
        "cleanrooms_target_poll_duration_seconds", "Wall time the last poll took, retries included."
    )
    invalid = gauge(
        "cleanrooms_target_invalid_collaborations",
        "Malformed collaboration summaries skipped in the last successful poll.",
    )
    streak = gauge(
        "cleanrooms_target_consecutive_failures",
        "Polls failed in a row; the poll interval doubles with each (capped) as a back-off.",
    )
    last_error = gauge(
        "cleanrooms_target_last_error_info",
        "Why the last poll failed, value 1; absent when it succeeded.",
        (*TARGET_LABELS, "operation", "error_code"),
    )
    polls = counter("cleanrooms_target_polls", "Polls of the target, finished.")
    failures = counter("cleanrooms_target_poll_failures", "Polls of the target that failed.")
    for state in states:
        key = list(state.target.key)
        up.add_metric(key, 1.0 if state.up else 0.0)
        success.add_metric(key, state.last_success or 0.0)
        duration.add_metric(key, state.last_duration or 0.0)
        invalid.add_metric(key, state.data.invalid_items if state.data else 0)
        streak.add_metric(key, state.consecutive_failures)
        if state.last_error is not None and not state.up:
            error = state.last_error
            last_error.add_metric([*key, label(error.operation), label(error.code)], 1)
        polls.add_metric(key, state.polls)
        failures.add_metric(key, state.failures)
    return [up, success, duration, invalid, streak, last_error, polls, failures]


def stale_family(states: Iterable[TargetState], fresh: Collection[TargetKey]) -> Metric:
    """Which targets have no data newer than stale_after (this changes with time alone)."""
    stale = gauge(
        "cleanrooms_target_stale",
        "1 if the target has no data newer than stale_after; its collaboration series are hidden.",
    )
    for state in states:
        stale.add_metric(list(state.target.key), 0.0 if state.target.key in fresh else 1.0)
    return stale


def api_families(
    counts: Mapping[TargetKey, TargetApiCounts],
    configured: Iterable[TargetKey],
    operations: Iterable[str] = ("ListCollaborations",),
) -> list[Metric]:
    """Per-target API counters; the enabled collectors' operations start at 0 per target."""
    op_labels = (*TARGET_LABELS, "operation")
    requests = counter("cleanrooms_api_requests", "AWS API attempts, retries included.", op_labels)
    throttles = counter(
        "cleanrooms_api_throttles",
        "AWS API attempts throttled (HTTP 429 or a throttling code).",
        op_labels,
    )
    errors = counter(
        "cleanrooms_api_errors",
        "AWS API attempts that failed, by error code.",
        (*op_labels, "error_code"),
    )
    # Zero-initialised so rate() sees the first increment.
    zero = dict.fromkeys(operations, 0)
    empty = TargetApiCounts()
    for key in sorted({*counts, *configured}):
        target = counts.get(key, empty)
        for operation, value in sorted({**zero, **target.requests}.items()):
            requests.add_metric([*key, operation], value)
        for (operation, code), value in sorted(target.errors.items()):
            errors.add_metric([*key, operation, label(code)], value)
        for operation, value in sorted({**zero, **target.throttles}.items()):
            throttles.add_metric([*key, operation], value)
    return [requests, errors, throttles]


def duration_family(view: ApiStatsView) -> Metric:
    family = HistogramMetricFamily(
        "cleanrooms_api_request_duration_seconds",
        "Duration of AWS API attempts, by operation.",
        labels=["operation"],
    )
    for operation, hist in sorted(view.durations.items()):
        cumulative, buckets = 0, []
        for bound, count in zip((*hist.bounds, float("inf")), hist.buckets, strict=True):
            cumulative += count
            buckets.append((_bound(bound), cumulative))
        family.add_metric([operation], buckets, hist.total)
    return family


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(value)


def exporter_families(target_count: int) -> list[Metric]:
    build = InfoMetricFamily("cleanrooms_exporter_build", "Exporter build information, value 1.")
    build.add_metric(
        [],
        {
            "version": __version__,
            "python_version": platform.python_version(),
            "boto3_version": boto3.__version__,
        },
    )
    targets = GaugeMetricFamily(
        "cleanrooms_exporter_targets", "Targets (account, region) configured."
    )
    targets.add_metric([], target_count)
    return [build, targets]
