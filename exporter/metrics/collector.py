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
from typing import Any

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from exporter.collectors import BY_NAME, collaborations
from exporter.collectors.base import CollectorSpec, Fresh
from exporter.config.collectors import CollectorSchedule
from exporter.core.model import COLLABORATIONS, CollectorState, Snapshot, TargetKey, TargetState
from exporter.core.stats import ApiStatsView, StatsSource
from exporter.metrics import families
from exporter.metrics import health as collector_families
from exporter.metrics.families import label

__all__ = ["CleanRoomsCollector", "CollectorSettings", "ScrapeView", "label"]


@dataclass(frozen=True)
class CollectorSettings:
    """The parts of the configuration that shape the output."""

    stale_after: float
    per_collaboration_metrics: bool
    trusted_creator_accounts: tuple[str, ...]
    # The enabled collectors besides collaborations, in registry order.
    collectors: tuple[CollectorSchedule, ...] = ()

    @property
    def health(self) -> tuple[CollectorSchedule, ...]:
        """Every enabled collector, collaborations first (its staleness is the target's)."""
        return (CollectorSchedule(COLLABORATIONS, 0.0, self.stale_after), *self.collectors)

    @property
    def operations(self) -> tuple[str, ...]:
        """AWS operations of the enabled collectors: their API counters start at 0."""
        names = (COLLABORATIONS, *(s.name for s in self.collectors))
        return tuple(op for name in names for op in BY_NAME[name].operations)

    @property
    def trusted(self) -> tuple[str, ...] | None:
        """The allow-list, or None when none is set (then no untrusted series is exported)."""
        return self.trusted_creator_accounts or None


@dataclass(frozen=True)
class ScrapeView:
    """Everything one scrape renders, read once at its start."""

    states: tuple[TargetState, ...]  # sorted by target key
    fresh: frozenset[TargetKey]
    settings: CollectorSettings
    now: float
    api: ApiStatsView
    # Per collector besides collaborations: states sorted by target, and the fresh keys.
    collectors: Mapping[str, tuple[CollectorState[Any], ...]]
    collector_fresh: Mapping[str, frozenset[TargetKey]]

    def fresh_states(self) -> list[TargetState]:
        return [s for s in self.states if s.target.key in self.fresh]

    def active(self) -> dict[TargetKey, frozenset[str]]:
        """ACTIVE collaboration ids per target, from the last good collaborations poll."""
        return {s.target.key: collector_families.active_ids(s.data) for s in self.states}

    def fresh_inputs(self, name: str) -> list[Fresh]:
        """One collector's fresh targets, ready for its family builders."""
        active = self.active()
        fresh = self.collector_fresh[name]
        return [
            Fresh(s.target.key, s.data, active.get(s.target.key, frozenset()))
            for s in self.collectors[name]
            if s.target.key in fresh
        ]

    def health_rows(self) -> list[collector_families.HealthRow]:
        """(collector, state, stale) for every enabled collector, collector-major."""
        rows = [(COLLABORATIONS, s, s.target.key not in self.fresh) for s in self.states]
        for name, states in self.collectors.items():
            fresh = self.collector_fresh[name]
            rows += [(name, s, s.target.key not in fresh) for s in states]
        return rows


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
        states = tuple(sorted(snapshot.states.values(), key=lambda s: s.target.key))
        monotonic_now = self._monotonic()
        fresh = frozenset(
            s.target.key for s in states if is_fresh(s, monotonic_now, settings.stale_after)
        )
        collectors: dict[str, tuple[CollectorState[Any], ...]] = {}
        collector_fresh: dict[str, frozenset[TargetKey]] = {}
        for schedule in settings.collectors:
            found = snapshot.collectors.get(schedule.name, {})
            ordered = tuple(sorted(found.values(), key=lambda s: s.target.key))
            collectors[schedule.name] = ordered
            collector_fresh[schedule.name] = frozenset(
                s.target.key for s in ordered if is_fresh(s, monotonic_now, schedule.stale_after)
            )
        return ScrapeView(
            states,
            fresh,
            settings,
            self._clock(),
            self._stats.view(),
            collectors,
            collector_fresh,
        )

    def collect(self) -> Iterator[Metric]:
        yield from all_families(self.view())


def all_families(view: ScrapeView) -> list[Metric]:
    """Every family of one scrape, in exposition order."""
    settings = view.settings
    fresh = view.fresh_states()
    rows = view.health_rows()
    return [
        *collaborations.data_families(fresh, settings.trusted, settings.per_collaboration_metrics),
        collaborations.age_family(fresh, view.now),
        families.account_info(view.states),
        *families.health_families(view.states),
        families.stale_family(view.states, view.fresh),
        *(m for name in view.collectors for m in collector_data(BY_NAME[name], view)),
        *collector_families.health_families(rows),
        collector_families.stale_family(rows),
        *families.api_families(
            view.api.targets, [s.target.key for s in view.states], settings.operations
        ),
        families.duration_family(view.api),
        *families.exporter_families(len(view.states)),
    ]


def collector_data(spec: CollectorSpec, view: ScrapeView) -> list[Metric]:
    """One collector's families from its fresh targets: data, then ages at ``view.now``."""
    fresh = view.fresh_inputs(spec.name)
    return [
        *spec.families(fresh),
        *(collector_families.age_family(age, fresh, view.now) for age in spec.ages),
    ]
