"""Families of the collectors besides collaborations, and every collector's health.

Pure functions of states, like ``families.py``: the collector builds them from all
targets at once, the scrape renderer from one (collector, target) at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import Metric

from exporter.collectors.base import AgeSpec, Fresh
from exporter.core.model import CollectorState, PollData
from exporter.metrics.families import COLLECTOR_POLLED, TARGET_LABELS, counter, gauge, label

HealthRow = tuple[str, CollectorState[Any], bool]  # (collector, state, stale)
COLLECTOR_LABELS = (*TARGET_LABELS, "collector")


def active_ids(data: PollData | None) -> frozenset[str]:
    """Ids of the ACTIVE collaborations in a collaborations poll (none without data)."""
    if data is None:
        return frozenset()
    return frozenset(c.id for c in data.collaborations if c.member_status == "ACTIVE")


def age_family(spec: AgeSpec, fresh: Iterable[Fresh], now: float) -> Metric:
    """``now - timestamp`` per point, clamped at 0; 0 where there is no timestamp."""
    family = gauge(spec.name, spec.doc, (*TARGET_LABELS, *spec.labels), polled=COLLECTOR_POLLED)
    for item in fresh:
        for labels, first in spec.points(item):
            value = max(0.0, now - first) if first else 0.0
            family.add_metric([*item.key, *labels], value)
    return family


def health_families(rows: Iterable[HealthRow]) -> list[Metric]:
    """Each enabled collector's health per target: ``cleanrooms_collector_*``."""
    up = gauge(
        "cleanrooms_collector_up",
        "1 if the collector's last poll succeeded, else 0.",
        COLLECTOR_LABELS,
        polled=COLLECTOR_POLLED,
    )
    success = gauge(
        "cleanrooms_collector_last_success_timestamp_seconds",
        "Unix time of the collector's last successful poll; 0 if none yet.",
        COLLECTOR_LABELS,
        polled=COLLECTOR_POLLED,
    )
    duration = gauge(
        "cleanrooms_collector_poll_duration_seconds",
        "Wall time the collector's last poll took, retries included.",
        COLLECTOR_LABELS,
        polled=COLLECTOR_POLLED,
    )
    streak = gauge(
        "cleanrooms_collector_consecutive_failures",
        "Polls of the collector failed in a row; its interval doubles with each (capped).",
        COLLECTOR_LABELS,
        polled=COLLECTOR_POLLED,
    )
    last_error = gauge(
        "cleanrooms_collector_last_error_info",
        "Why the collector's last poll failed, value 1; absent when it succeeded.",
        (*COLLECTOR_LABELS, "operation", "error_code"),
        polled=COLLECTOR_POLLED,
    )
    polls = counter(
        "cleanrooms_collector_polls", "Polls of the collector, finished.", COLLECTOR_LABELS
    )
    failures = counter(
        "cleanrooms_collector_poll_failures",
        "Polls of the collector that failed.",
        COLLECTOR_LABELS,
    )
    for name, state, _ in rows:
        key = [*state.target.key, name]
        up.add_metric(key, 1.0 if state.up else 0.0)
        success.add_metric(key, state.last_success or 0.0)
        duration.add_metric(key, state.last_duration or 0.0)
        streak.add_metric(key, state.consecutive_failures)
        if state.last_error is not None and not state.up:
            error = state.last_error
            last_error.add_metric([*key, label(error.operation), label(error.code)], 1)
        polls.add_metric(key, state.polls)
        failures.add_metric(key, state.failures)
    return [up, success, duration, streak, last_error, polls, failures]


def stale_family(rows: Iterable[HealthRow]) -> Metric:
    """Which collectors' data is older than their stale_after (this changes with time alone)."""
    family = gauge(
        "cleanrooms_collector_stale",
        "1 if the collector has no data newer than its stale_after; its series are hidden.",
        COLLECTOR_LABELS,
        polled=COLLECTOR_POLLED,
    )
    for name, state, stale in rows:
        family.add_metric([*state.target.key, name], 1.0 if stale else 0.0)
    return family
