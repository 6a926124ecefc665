"""Every collector's polling health, and the scrape-time age gauges collectors declare.

One builder serves both kinds of health: the primary collector's, exported per target
under its established names (``cleanrooms_target_*``), and every other collector's,
labelled by collector (``cleanrooms_collector_*``). Pure functions of states: the
collector builds them from all targets at once, the scrape renderer from one row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from exporter.core.model import CollectorState
from exporter.core.series import COLLECTOR_POLLED, POLLED, SCRAPE_TIME, TARGET_LABELS, label
from exporter.metrics.builtin import counter, gauge

HealthRow = tuple[str, CollectorState[Any], bool]  # (collector, state, stale)
COLLECTOR_LABELS = (*TARGET_LABELS, "collector")
State = CollectorState[Any]


@dataclass(frozen=True)
class Column:
    """One health family: its name after the prefix, its help text and its value.

    ``LAST_ERROR`` is the one column without a value: ``last_error_info``, present only
    while the last poll failed, labelled with its operation and error code.
    """

    suffix: str
    doc: str
    value: Callable[[State], float]
    counter: bool = False

    @property
    def is_error(self) -> bool:
        return self.suffix == LAST_ERROR


LAST_ERROR = "last_error_info"


def _no_value(_: State) -> float:
    return 1.0


def error_column(doc: str) -> Column:
    return Column(LAST_ERROR, doc, _no_value)


def _up(state: State) -> float:
    return 1.0 if state.up else 0.0


def _invalid(state: State) -> float:
    # Every collector's data carries the malformed summaries its last good poll skipped.
    return float(getattr(state.data, "invalid_items", 0)) if state.data is not None else 0.0


@dataclass(frozen=True)
class Health:
    """The health series of one kind, in exposition order (``last_error_info`` among them)."""

    prefix: str
    per_collector: bool  # labelled by collector (else one series per target)
    polled: str
    columns: tuple[Column, ...]
    stale_doc: str

    @property
    def labels(self) -> tuple[str, ...]:
        return COLLECTOR_LABELS if self.per_collector else TARGET_LABELS

    def key(self, name: str, state: State) -> list[str]:
        return [*state.target.key, name] if self.per_collector else list(state.target.key)


def _success(state: State) -> float:
    return state.last_success or 0.0


def _duration(state: State) -> float:
    return state.last_duration or 0.0


def _streak(state: State) -> float:
    return float(state.consecutive_failures)


TARGET = Health(
    "cleanrooms_target",
    per_collector=False,
    polled=POLLED,
    columns=(
        Column("up", "1 if the last poll of the target succeeded, else 0.", _up),
        Column(
            "last_success_timestamp_seconds",
            "Unix time of the last successful poll; 0 if none yet.",
            _success,
        ),
        Column(
            "poll_duration_seconds", "Wall time the last poll took, retries included.", _duration
        ),
        Column(
            "invalid_collaborations",
            "Malformed collaboration summaries skipped in the last successful poll.",
            _invalid,
        ),
        Column(
            "consecutive_failures",
            "Polls failed in a row; the poll interval doubles with each (capped) as a back-off.",
            _streak,
        ),
        error_column("Why the last poll failed, value 1; absent when it succeeded."),
        Column("polls", "Polls of the target, finished.", lambda s: s.polls, counter=True),
        Column("poll_failures", "Polls of the target that failed.", lambda s: s.failures, True),
    ),
    stale_doc="1 if the target has no data newer than stale_after; its collaboration series "
    "are hidden.",
)
COLLECTOR = Health(
    "cleanrooms_collector",
    per_collector=True,
    polled=COLLECTOR_POLLED,
    columns=(
        Column("up", "1 if the collector's last poll succeeded, else 0.", _up),
        Column(
            "last_success_timestamp_seconds",
            "Unix time of the collector's last successful poll; 0 if none yet.",
            _success,
        ),
        Column(
            "poll_duration_seconds",
            "Wall time the collector's last poll took, retries included.",
            _duration,
        ),
        Column(
            "consecutive_failures",
            "Polls of the collector failed in a row; its interval doubles with each (capped).",
            _streak,
        ),
        error_column("Why the collector's last poll failed, value 1; absent when it succeeded."),
        Column("polls", "Polls of the collector, finished.", lambda s: s.polls, counter=True),
        Column("poll_failures", "Polls of the collector that failed.", lambda s: s.failures, True),
    ),
    stale_doc="1 if the collector has no data newer than its stale_after; its series are hidden.",
)


def _family(kind: Health, column: Column) -> GaugeMetricFamily | CounterMetricFamily:
    name = f"{kind.prefix}_{column.suffix}"
    if column.counter:
        return counter(name, column.doc, kind.labels)
    labels = (*kind.labels, "operation", "error_code") if column.is_error else kind.labels
    return gauge(name, column.doc, labels, polled=kind.polled)


def health_families(kind: Health, rows: Iterable[HealthRow]) -> list[Metric]:
    """The health of each row's collector and target; these depend on the state alone."""
    built = [(_family(kind, c), c) for c in kind.columns]
    for name, state, _ in rows:
        key = kind.key(name, state)
        for family, column in built:
            if not column.is_error:
                family.add_metric(key, column.value(state))
                continue
            error = state.last_error
            if error is not None and not state.up:
                family.add_metric([*key, label(error.operation), label(error.code)], 1)
    return [family for family, _ in built]


def stale_family(kind: Health, rows: Iterable[HealthRow]) -> Metric:
    """Which rows' data is older than their stale_after (this changes with time alone)."""
    family = gauge(f"{kind.prefix}_stale", kind.stale_doc, kind.labels, polled=SCRAPE_TIME)
    for name, state, stale in rows:
        family.add_metric(kind.key(name, state), 1.0 if stale else 0.0)
    return family
