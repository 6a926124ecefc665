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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, TypeVar

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from exporter.collectors import BY_NAME, PRIMARY
from exporter.collectors.base import CollectorSpec, TargetData
from exporter.config.collectors import CollectorSchedule
from exporter.core.model import CollectorState, Snapshot, TargetKey
from exporter.core.series import OutputSettings, exposed_name
from exporter.core.stats import ApiStatsView, StatsSource
from exporter.metrics import builtin, declared, health
from exporter.metrics.folding import CounterCarry

__all__ = ["ScrapeSettings", "ScrapeView", "Sections", "SnapshotMetrics"]


@dataclass(frozen=True)
class ScrapeSettings:
    """The parts of the configuration that shape the output."""

    stale_after: float  # the primary collector's, the top-level stale_after
    per_collaboration_metrics: bool
    trusted_creator_accounts: tuple[str, ...]
    # The enabled collectors besides the primary, in registry order.
    collectors: tuple[CollectorSchedule, ...] = ()
    # The families exported and not exported (``metrics.allow``, ``metrics.deny``).
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    # (collector, detail level) where a collector's is not the finest (``detail``).
    detail: tuple[tuple[str, str], ...] = ()

    @cached_property
    def output(self) -> OutputSettings:
        """What shapes collectors' families; one object per settings, so caches key on it."""
        return OutputSettings(
            self.trusted_creator_accounts,
            self.per_collaboration_metrics,
            self.allow,
            self.deny,
            self.detail,
        )

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
    """The exposition's sections in order, each a list of parts (families, or blocks)."""

    def sections(self, view: ScrapeView) -> list[P]:
        primary = self.collector_data(view, PRIMARY)
        others = [(spec.name, self.collector_data(view, spec)) for spec in view.others]
        # Each collector's series, counted before the families several share are merged.
        counts = {PRIMARY.name: self.series(primary)}
        counts.update((name, self.series(parts)) for name, parts in others)
        return [
            *primary,
            *self.accounts(view),
            *self.quotas(view),
            *self.health(view, health.TARGET, view.health_rows(primary_only=True)),
            *self.merged([part for _, parts in others for part in parts]),
            *self.health(view, health.COLLECTOR, view.health_rows()),
            *self.api(view),
            *self.tail(view, counts),
        ]

    @abstractmethod
    def collector_data(self, view: ScrapeView, spec: CollectorSpec[Any]) -> list[P]:
        """One collector's families from its fresh targets: data, then ages at ``view.now``."""

    @abstractmethod
    def series(self, parts: list[P]) -> int:
        """The samples of one collector's families."""

    @abstractmethod
    def merged(self, parts: list[P]) -> list[P]:
        """Families several collectors share (the details backlog) as one, in the first's place."""

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
    def api(self, view: ScrapeView) -> list[P]: ...

    @abstractmethod
    def tail(self, view: ScrapeView, counts: Mapping[str, int]) -> list[P]:
        """``tail_metrics``: API durations, build, targets, series per collector, the extras'."""


def tail_metrics(
    view: ScrapeView, counts: Mapping[str, int], extra: Sequence[Collector]
) -> list[Metric]:
    """The small families at the end, rendered fresh each scrape, then the extra collectors'."""
    return [
        builtin.duration_family(view.api),
        *builtin.exporter_families(len(view.keys)),
        builtin.series_family(counts),
        *(metric for collector in extra for metric in collector.collect()),
    ]


def exposed(metric: Metric) -> str:
    """The family's name as the allow and deny lists match it."""
    return exposed_name(metric.name, metric.type)


def is_fresh(state: CollectorState[Any], monotonic_now: float, stale_after: float) -> bool:
    """Whether the target has data from a poll younger than ``stale_after``."""
    return (
        state.data is not None
        and state.last_success_monotonic is not None
        and monotonic_now - state.last_success_monotonic <= stale_after
    )


class SnapshotMetrics(Collector, Sections[Metric]):
    """Yields every cleanrooms_* family from the latest snapshot, rendered by the library.

    The ``extra`` collectors (the exporter's own state, the web server's counters) come
    last; the allow and deny lists apply to every family.
    """

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        stats: StatsSource,
        settings: Callable[[], ScrapeSettings],
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        extra: Sequence[Collector] = (),
    ) -> None:
        self._snapshot = snapshot
        self._stats = stats
        self._settings = settings
        self._clock = clock
        self._monotonic = monotonic
        self.extra = tuple(extra)
        # Folded counters' state, shared with the cached renderer of the same exporter.
        self.carry = CounterCarry()

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
        # Folded counters of jobs still configured carry on, through staleness and through
        # a reload to another detail level and back: the same series never falls.
        jobs = {(name, s.target.key) for name in collectors for s in collectors[name]}
        self.carry.prune(lambda key: (key[0], key[1]) in jobs)
        return ScrapeView(settings, self._clock(), self._stats.view(), collectors, fresh)

    def collect(self) -> Iterator[Metric]:
        view = self.view()
        output = view.settings.output
        yield from (m for m in self.sections(view) if output.exports(exposed(m)))

    def collector_data(self, view: ScrapeView, spec: CollectorSpec[Any]) -> list[Metric]:
        fresh, output = view.fresh_inputs(spec), view.settings.output
        return [
            *declared.families(spec, fresh, output, self.carry),
            *(declared.age_family(age, fresh, view.now) for age in declared.ages(spec, output)),
        ]

    def accounts(self, view: ScrapeView) -> list[Metric]:
        return [builtin.account_info(s.target for s in view.states)]

    def quotas(self, view: ScrapeView) -> list[Metric]:
        return [builtin.quota_limits((s.target for s in view.states), view.applied_quotas())]

    def health(
        self, view: ScrapeView, kind: health.Health, rows: list[health.HealthRow]
    ) -> list[Metric]:
        return [*health.health_families(kind, rows), health.stale_family(kind, rows)]

    def series(self, parts: list[Metric]) -> int:
        return sum(len(metric.samples) for metric in parts)

    def merged(self, parts: list[Metric]) -> list[Metric]:
        return merge_shared(parts)

    def api(self, view: ScrapeView) -> list[Metric]:
        return builtin.api_families(view.api.targets, view.keys, view.settings.operations)

    def tail(self, view: ScrapeView, counts: Mapping[str, int]) -> list[Metric]:
        return tail_metrics(view, counts, self.extra)


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
