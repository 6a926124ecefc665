"""One scrape's families from the current snapshot, in the exposition order written once.

``SnapshotMetrics`` (a prometheus_client collector of the whole exporter) reads one snapshot
reference and never calls AWS. ``Sections`` lists the exposition's parts in order; the
library-rendered path here and the cached renderer (``exposition``) both fill it. Sample::

    # HELP cleanrooms_collaborations Collaborations of this member by member status. Polled ...
    # TYPE cleanrooms_collaborations gauge
    cleanrooms_collaborations{account_id="111111111111",member_status="ACTIVE",region="eu-west-2"} 3
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, TypeVar

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from exporter.collectors import BY_NAME, PRIMARY
from exporter.collectors.base import CollectorSpec, TargetData
from exporter.config.collectors import CollectorSchedule
from exporter.core.model import CollectorState, Snapshot, TargetKey
from exporter.core.series import OutputSettings
from exporter.core.stats import ApiStatsView, StatsSource
from exporter.metrics import builtin, declared, health

__all__ = ["ScrapeSettings", "ScrapeView", "Sections", "SnapshotMetrics"]


@dataclass(frozen=True)
class ScrapeSettings:
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
        return tuple(op for s in self.schedules for op in BY_NAME[s.name].polling.operations)


@dataclass(frozen=True)
class ScrapeView:
    """Everything one scrape renders, read once at its start."""

    settings: ScrapeSettings
    now: float
    api: ApiStatsView
    # Per enabled collector, the primary first: states sorted by target, and the fresh keys.
    collectors: Mapping[str, tuple[CollectorState[Any], ...]]
    fresh: Mapping[str, frozenset[TargetKey]]

    @property
    def states(self) -> tuple[CollectorState[Any], ...]:
        """The primary collector's states: one per target, sorted by target key."""
        return self.collectors[PRIMARY.name]

    @property
    def keys(self) -> list[TargetKey]:
        return [s.target.key for s in self.states]

    @property
    def others(self) -> list[CollectorSpec[Any]]:
        """The enabled collectors besides the primary, in registry order."""
        return [BY_NAME[name] for name in self.collectors if name != PRIMARY.name]

    def data(self, name: str) -> dict[TargetKey, Any]:
        """One collector's last good data by target, fresh or not."""
        return {s.target.key: s.data for s in self.collectors.get(name, ())}

    def fresh_inputs(self, spec: CollectorSpec[Any]) -> list[TargetData[Any]]:
        """One collector's fresh targets, ready for its family builders."""
        source = spec.polling.fans_out_from
        parents = self.data(source) if source else {}
        fresh = self.fresh[spec.name]
        return [
            TargetData(s.target.key, s.data, parents.get(s.target.key))
            for s in self.collectors[spec.name]
            if s.target.key in fresh
        ]

    def applied_quotas(self) -> dict[TargetKey, Mapping[str, float]]:
        """AWS quotas as applied to each target, from the collectors that read them (fresh)."""
        found: dict[TargetKey, dict[str, float]] = {}
        for spec in self.others:
            read = spec.rendering.applied_quotas
            if read is not None:
                for item in self.fresh_inputs(spec):
                    found.setdefault(item.key, {}).update(read(item.data))
        return dict(found)

    def health_rows(self, primary_only: bool = False) -> list[health.HealthRow]:
        """(collector, state, stale) of every enabled collector, or of the primary alone."""
        return [
            (name, s, s.target.key not in self.fresh[name])
            for name, states in self.collectors.items()
            if name == PRIMARY.name or not primary_only
            for s in states
        ]


P = TypeVar("P")


class Sections(ABC, Generic[P]):
    """The exposition's sections in order, each a list of parts (families, or bytes)."""

    def sections(self, view: ScrapeView) -> list[P]:
        return [
            *self.collector_data(view, PRIMARY),
            *self.accounts(view),
            *self.quotas(view),
            *self.health(view, health.TARGET, view.health_rows(primary_only=True)),
            *self.other_collectors(view),
            *self.health(view, health.COLLECTOR, view.health_rows()),
            *self.api(view),
            *self.tail(view),
        ]

    @abstractmethod
    def collector_data(self, view: ScrapeView, spec: CollectorSpec[Any]) -> list[P]:
        """One collector's families from its fresh targets: data, then ages at ``view.now``."""

    @abstractmethod
    def accounts(self, view: ScrapeView) -> list[P]: ...

    @abstractmethod
    def quotas(self, view: ScrapeView) -> list[P]: ...

    @abstractmethod
    def health(
        self, view: ScrapeView, kind: health.Health, rows: list[health.HealthRow]
    ) -> list[P]:
        """The health families of ``rows``, then their staleness."""

    @abstractmethod
    def other_collectors(self, view: ScrapeView) -> list[P]:
        """Every other collector's data; families several share (the details backlog) once."""

    @abstractmethod
    def api(self, view: ScrapeView) -> list[P]: ...

    @abstractmethod
    def tail(self, view: ScrapeView) -> list[P]:
        """The API durations, the build and target count, and any extra collector's."""


def is_fresh(state: CollectorState[Any], monotonic_now: float, stale_after: float) -> bool:
    """Whether the target has data from a poll younger than ``stale_after``."""
    return (
        state.data is not None
        and state.last_success_monotonic is not None
        and monotonic_now - state.last_success_monotonic <= stale_after
    )


class SnapshotMetrics(Collector, Sections[Metric]):
    """Yields every cleanrooms_* family from the latest snapshot, rendered by the library."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        stats: StatsSource,
        settings: Callable[[], ScrapeSettings],
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
        yield from self.sections(self.view())

    def collector_data(self, view: ScrapeView, spec: CollectorSpec[Any]) -> list[Metric]:
        fresh = view.fresh_inputs(spec)
        return [
            *declared.families(spec, fresh, view.settings.output),
            *(declared.age_family(age, fresh, view.now) for age in spec.rendering.ages),
        ]

    def accounts(self, view: ScrapeView) -> list[Metric]:
        return [builtin.account_info(s.target for s in view.states)]

    def quotas(self, view: ScrapeView) -> list[Metric]:
        return [builtin.quota_limits((s.target for s in view.states), view.applied_quotas())]

    def health(
        self, view: ScrapeView, kind: health.Health, rows: list[health.HealthRow]
    ) -> list[Metric]:
        return [*health.health_families(kind, rows), health.stale_family(kind, rows)]

    def other_collectors(self, view: ScrapeView) -> list[Metric]:
        return merge_shared([m for spec in view.others for m in self.collector_data(view, spec)])

    def api(self, view: ScrapeView) -> list[Metric]:
        return builtin.api_families(view.api.targets, view.keys, view.settings.operations)

    def tail(self, view: ScrapeView) -> list[Metric]:
        return [builtin.duration_family(view.api), *builtin.exporter_families(len(view.keys))]


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
