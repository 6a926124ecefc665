"""Collectors' declared families (``core.series.Family``) as prometheus_client families.

Collectors declare families and add samples without the client library; this is where the
two meet. Every collector series starts with the target's labels (``account_id``,
``region``); a family's help text ends with when its value is computed, from its type and
whether the collector is the primary one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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


class _Sink:
    """Adds samples to the library's families; a family left out by settings takes none."""

    def __init__(self, spec: CollectorSpec[Any], built: dict[Family, Metric]) -> None:
        self.declared = frozenset(spec.rendering.families)
        self.name = spec.name
        self.built = built
        self.key: tuple[str, ...] = ()

    def add(self, family: Family, labels: Sequence[str], value: SampleValue) -> None:
        metric = self.built.get(family)
        if metric is None:
            if family not in self.declared:
                raise UndeclaredFamily(f"{self.name}: {family.name} is not in its spec")
            return
        full = [*self.key, *labels]
        if isinstance(metric, HistogramMetricFamily):
            buckets, total = cast(HistogramValue, value)
            metric.add_metric(full, buckets, total)
        elif isinstance(metric, InfoMetricFamily):
            metric.add_metric(full, dict(cast(Mapping[str, str], value)))
        else:
            cast(GaugeMetricFamily, metric).add_metric(full, cast(float, value))


def families(
    spec: CollectorSpec[Any], items: Iterable[TargetData[Any]], settings: OutputSettings
) -> list[Metric]:
    """The collector's families under ``settings``, filled from ``items``, in declared order."""
    when = polled(spec)
    built = {f: new_family(f, when) for f in spec.rendering.enabled(settings)}
    sink = _Sink(spec, built)
    for item in items:
        sink.key = item.key
        spec.rendering.samples(item, settings, sink)
    return list(built.values())


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
