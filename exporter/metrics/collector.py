"""Turn the current poll snapshot and API tallies into Prometheus metric families.

``collect()`` reads one snapshot reference and never calls AWS. Sample output::

    # HELP cleanrooms_collaborations Collaborations of this member by member status. Polled ...
    # TYPE cleanrooms_collaborations gauge
    cleanrooms_collaborations{account_id="111111111111",member_status="ACTIVE",region="eu-west-2"} 3
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from exporter.collectors import BY_NAME, PRIMARY
from exporter.collectors.base import CollectorSpec, Fresh, OutputSettings
from exporter.config.collectors import CollectorSchedule
from exporter.core.families import label
from exporter.core.model import CollectorState, Snapshot, TargetKey
from exporter.core.stats import ApiStatsView, StatsSource
from exporter.metrics import families, health

__all__ = ["CleanRoomsCollector", "CollectorSettings", "ScrapeView", "label"]


@dataclass(frozen=True)
class CollectorSettings:
    """The parts of the configuration that shape the output."""

    stale_after: float  # the primary collector's, the top-level stale_after
    per_collaboration_metrics: bool
    trusted_creator_accounts: tuple[str, ...]
    # The enabled collectors besides the primary, in registry order.
    collectors: tuple[CollectorSchedule, ...] = ()

    @cached_property
    def output(self) -> OutputSettings:
        """What shapes collectors' families; one object per settings, so caches key on it."""
        return OutputSettings(self.trusted_creator_accounts, self.per_collaboration_metrics)

    @property
    def schedules(self) -> tuple[CollectorSchedule, ...]:
        """Every enabled collector, the primary first (its staleness is the target's)."""
        return (CollectorSchedule(PRIMARY.name, 0.0, self.stale_after), *self.collectors)

    @property
    def operations(self) -> tuple[str, ...]:
        """AWS operations of the enabled collectors: their API counters start at 0."""
        return tuple(op for s in self.schedules for op in BY_NAME[s.name].operations)


@dataclass(frozen=True)
class ScrapeView:
    """Everything one scrape renders, read once at its start."""

    settings: CollectorSettings
    now: float
    api: ApiStatsView
    # Per enabled collector, the primary first: states sorted by target, and the fresh keys.
    collectors: Mapping[str, tuple[CollectorState[Any], ...]]
    fresh: Mapping[str, frozenset[TargetKey]]

    @property
    def states(self) -> tuple[CollectorState[Any], ...]:
        """The primary collector's states: one per target, sorted by target key."""
        return self.collectors[PRIMARY.name]

    def data(self, name: str) -> dict[TargetKey, Any]:
        """One collector's last good data by target, fresh or not."""
        return {s.target.key: s.data for s in self.collectors.get(name, ())}

    def fresh_inputs(self, spec: CollectorSpec) -> list[Fresh]:
        """One collector's fresh targets, ready for its family builders."""
        needed = self.data(spec.needs) if spec.needs else {}
        fresh = self.fresh[spec.name]
        return [
            Fresh(s.target.key, s.data, needed.get(s.target.key))
            for s in self.collectors[spec.name]
            if s.target.key in fresh
        ]

    def health_rows(self, primary_only: bool = False) -> list[health.HealthRow]:
        """(collector, state, stale) of every enabled collector, or of the primary alone."""
        return [
            (name, s, s.target.key not in self.fresh[name])
            for name, states in self.collectors.items()
            if name == PRIMARY.name or not primary_only
            for s in states
        ]


def is_fresh(state: CollectorState[Any], monotonic_now: float, stale_after: float) -> bool:
    """Whether the target has data from a poll younger than ``stale_after``."""
    return (
        state.data is not None
        and state.last_success_monotonic is not None
        and monotonic_now - state.last_success_monotonic <= stale_after
    )


class CleanRoomsCollector(Collector):
    """Yields every cleanrooms_* family from the latest snapshot."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        stats: StatsSource,
        settings: Callable[[], CollectorSettings],
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._snapshot = snapshot
        self._stats = stats
        self._settings = settings
        self._clock = clock
        self._monotonic = monotonic

    def describe(self) -> Iterator[Metric]:
        # Nothing to pre-declare: spares the registry a full collect at registration.
        return iter([])

    def view(self) -> ScrapeView:
        """Read the snapshot, settings, clocks and tallies once, for one consistent scrape."""
        settings = self._settings()
        snapshot = self._snapshot()
        found = {PRIMARY.name: snapshot.states, **snapshot.collectors}
        monotonic_now = self._monotonic()
        collectors: dict[str, tuple[CollectorState[Any], ...]] = {}
        fresh: dict[str, frozenset[TargetKey]] = {}
        for schedule in settings.schedules:
            states = found.get(schedule.name, {})
            ordered = tuple(sorted(states.values(), key=lambda s: s.target.key))
            collectors[schedule.name] = ordered
            fresh[schedule.name] = frozenset(
                s.target.key for s in ordered if is_fresh(s, monotonic_now, schedule.stale_after)
            )
        return ScrapeView(settings, self._clock(), self._stats.view(), collectors, fresh)

    def collect(self) -> Iterator[Metric]:
        yield from all_families(self.view())


def all_families(view: ScrapeView) -> list[Metric]:
    """Every family of one scrape, in exposition order."""
    primary = view.health_rows(primary_only=True)
    rows = view.health_rows()
    keys = [s.target.key for s in view.states]
    return merge_shared(
        [
            *collector_data(PRIMARY, view),
            families.account_info(s.target for s in view.states),
            families.quota_limits(s.target for s in view.states),
            *health.health_families(health.TARGET, primary),
            health.stale_family(health.TARGET, primary),
            *(m for spec in _others(view) for m in collector_data(spec, view)),
            *health.health_families(health.COLLECTOR, rows),
            health.stale_family(health.COLLECTOR, rows),
            *families.api_families(view.api.targets, keys, view.settings.operations),
            families.duration_family(view.api),
            *families.exporter_families(len(keys)),
        ]
    )


def merge_shared(metrics: list[Metric]) -> list[Metric]:
    """Families several collectors share (the details backlog) as one, in the first's place."""
    first: dict[str, Metric] = {}
    merged = []
    for metric in metrics:
        if metric.name in first:
            first[metric.name].samples.extend(metric.samples)
        else:
            first[metric.name] = metric
            merged.append(metric)
    return merged


def _others(view: ScrapeView) -> list[CollectorSpec]:
    return [BY_NAME[name] for name in view.collectors if name != PRIMARY.name]


def collector_data(spec: CollectorSpec, view: ScrapeView) -> list[Metric]:
    """One collector's families from its fresh targets: data, then ages at ``view.now``."""
    fresh = view.fresh_inputs(spec)
    return [
        *spec.families(fresh, view.settings.output),
        *(health.age_family(age, fresh, view.now) for age in spec.ages),
    ]
