"""Collectors' declared families (``core.series.Family``) as prometheus_client families.

Collectors declare families and add samples without the client library; this is where the
two meet. Every collector series starts with the target's labels (``account_id``,
``region``); a family's help text ends with when its value is computed, from its type and
whether the collector is the primary one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import reduce
from typing import Any, cast

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)

from exporter.collectors.base import AgeSpec, CollectorSpec, TargetData
from exporter.core.series import (
    COLLECTOR_POLLED,
    POLLED,
    TARGET_LABELS,
    Family,
    HistogramValue,
    OutputSettings,
    SampleValue,
)
from exporter.metrics import folding

Labels = tuple[str, ...]


def polled(spec: CollectorSpec[Any]) -> str:
    """When a collector's polled values change: every poll_interval, or its own interval."""
    return POLLED if spec.polling.primary else COLLECTOR_POLLED


def new_family(family: Family, when: str) -> Metric:
    """An empty library family of the declaration; ``when`` ends a non-counter's help."""
    labels, doc = [*TARGET_LABELS, *family.labels], family.help(when)
    if family.type == "counter":
        return CounterMetricFamily(family.name, doc, labels=labels)
    if family.type == "info":
        return InfoMetricFamily(family.name, doc, labels=labels)
    if family.type == "histogram":
        return HistogramMetricFamily(family.name, doc, labels=labels)
    return GaugeMetricFamily(family.name, doc, labels=labels)


class UndeclaredFamily(Exception):
    """A collector added a sample to a family its spec does not declare: a bug."""


def plans(spec: CollectorSpec[Any], settings: OutputSettings) -> dict[Family, folding.Plan]:
    """The collector's families exported under ``settings``, each with how it folds there.

    Left out: those its own conditions leave out, those the allow and deny lists leave out,
    and those its detail level drops.
    """
    detail = settings.detail_of(spec.name)
    found = {}
    for family in spec.rendering.enabled(settings):
        plan = folding.plan(family, detail)
        if plan is not None and settings.exports(family.exposed):
            found[family] = plan
    return found


def enabled(spec: CollectorSpec[Any], settings: OutputSettings) -> tuple[Family, ...]:
    """The families exported under ``settings``, as exported (folded ones with fewer labels)."""
    return tuple(plan.family for plan in plans(spec, settings).values())


def ages(spec: CollectorSpec[Any], settings: OutputSettings) -> tuple[AgeSpec[Any], ...]:
    """The collector's ages exported under ``settings``, folded to its detail level."""
    detail = settings.detail_of(spec.name)
    return tuple(
        folding.folded_age(age, detail) for age in spec.rendering.ages if settings.exports(age.name)
    )


class _Sink:
    """Adds one target's samples to the library's families, folding them to the detail level.

    A family left out by the settings takes none; folded families' samples wait in
    ``pending`` until the target is done (``flush``).
    """

    def __init__(
        self,
        spec: CollectorSpec[Any],
        found: dict[Family, folding.Plan],
        when: str,
        carry: folding.CounterCarry | None,
        detail: str,
    ) -> None:
        self.declared = frozenset(spec.rendering.families)
        self.name = spec.name
        self.plans = found
        self.built = {family: new_family(plan.family, when) for family, plan in found.items()}
        self.carry = carry
        self.detail = detail
        self.pending: dict[Family, dict[Labels, dict[Labels, SampleValue]]] = {}

    def add(self, family: Family, labels: Sequence[str], value: SampleValue) -> None:
        plan = self.plans.get(family)
        if plan is None:
            if family not in self.declared:
                raise UndeclaredFamily(f"{self.name}: {family.name} is not in its spec")
            return
        if not plan.folds:
            _add(self.built[family], [*self.key, *labels], value)
            return
        groups = self.pending.setdefault(family, {})
        groups.setdefault(tuple(labels[i] for i in plan.keep), {})[tuple(labels)] = value

    def start(self, item: TargetData[Any]) -> None:
        self.item = item
        self.key: tuple[str, ...] = item.key

    def flush(self) -> None:
        """Add the target's folded samples: combined, or carried for counters."""
        for family, groups in self.pending.items():
            for labels, value in self._folded(family, groups).items():
                _add(self.built[family], [*self.key, *labels], value)
        self.pending = {}

    def _folded(
        self, family: Family, groups: dict[Labels, dict[Labels, SampleValue]]
    ) -> Mapping[Labels, SampleValue]:
        how = self.plans[family].how
        if family.type == "counter" and how == "sum" and self.carry is not None:
            key = (self.name, self.item.key, family.name, self.detail)
            source = (self.item.data, self.item.parent)
            counts = {
                k: {f: cast(float, v) for f, v in found.items()} for k, found in groups.items()
            }
            return self.carry.advance(key, source, counts)
        if how == "drop" or family.type == "info":
            # Only relabelled (one membership per collaboration): should two ever meet,
            # the first stays; an info's labels cannot be added up.
            return {k: next(iter(found.values())) for k, found in groups.items()}
        return {
            k: reduce(lambda a, b: folding.combine(how, a, b), found.values())
            for k, found in groups.items()
        }


def _add(metric: Metric, labels: list[str], value: SampleValue) -> None:
    if isinstance(metric, HistogramMetricFamily):
        buckets, total = cast(HistogramValue, value)
        metric.add_metric(labels, buckets, total)
    elif isinstance(metric, InfoMetricFamily):
        metric.add_metric(labels, dict(cast(Mapping[str, str], value)))
    else:
        cast(GaugeMetricFamily, metric).add_metric(labels, cast(float, value))


def families(
    spec: CollectorSpec[Any],
    items: Iterable[TargetData[Any]],
    settings: OutputSettings,
    carry: folding.CounterCarry | None = None,
) -> list[Metric]:
    """The collector's families under ``settings``, filled from ``items``, in declared order.

    ``carry`` keeps folded counters monotonic from one poll's data to the next.
    """
    detail = settings.detail_of(spec.name)
    sink = _Sink(spec, plans(spec, settings), polled(spec), carry, detail)
    for item in items:
        sink.start(item)
        spec.rendering.samples(item, settings, sink)
        sink.flush()
    return list(sink.built.values())


def age_family(spec: AgeSpec[Any], items: Iterable[TargetData[Any]], now: float) -> Metric:
    """``now - timestamp`` per point, clamped at 0; 0 where there is no timestamp."""
    family = GaugeMetricFamily(
        spec.name, f"{spec.doc} {spec.polled}", labels=[*TARGET_LABELS, *spec.labels]
    )
    for item in items:
        for labels, first in spec.points(item):
            value = max(0.0, now - first) if first else 0.0
            family.add_metric([*item.key, *labels], value)
    return family
