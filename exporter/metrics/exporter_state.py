"""The exporter's own state as series: configuration loads, shards, discovery, poll workers,
and how late scheduled polls start.

Small and cheap, so rendered fresh on every scrape from plain values the app hands over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from exporter.collectors import REGISTRY
from exporter.core.histogram import Histogram
from exporter.core.model import DiscoveryStatus, WorkerStatus

LAG = "cleanrooms_exporter_poll_lag_ratio"
_ORDER = {spec.name: spec.order for spec in REGISTRY}


@dataclass(frozen=True)
class ExporterState:
    """What the app reports about itself at one moment."""

    reload_ok: bool
    reload_time: float
    shard_index: int
    shard_count: int
    discovery: DiscoveryStatus | None  # None: discovery is not configured


class ExporterStateCollector(Collector):
    """Reload, shard and discovery series."""

    def __init__(self, state: Callable[[], ExporterState]) -> None:
        self._state = state

    def describe(self) -> Iterator[Metric]:
        return iter([])

    def collect(self) -> Iterator[Metric]:
        state = self._state()
        yield _gauge(
            "cleanrooms_exporter_config_last_reload_successful",
            "1 if the last configuration load (start-up or reload) succeeded.",
            1.0 if state.reload_ok else 0.0,
        )
        yield _gauge(
            "cleanrooms_exporter_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration load.",
            state.reload_time,
        )
        yield _gauge("cleanrooms_exporter_shard_index", "This replica's shard.", state.shard_index)
        yield _gauge(
            "cleanrooms_exporter_shards", "Replicas sharing the accounts.", state.shard_count
        )
        if state.discovery is not None:
            yield from discovery_families(state.discovery)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc)
    family.add_metric([], value)
    return family


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc)
    family.add_metric([], value)
    return family


def discovery_families(status: DiscoveryStatus) -> Iterator[Metric]:
    yield _gauge(
        "cleanrooms_discovery_up",
        "1 if the last Organizations discovery succeeded.",
        1.0 if status.up else 0.0,
    )
    yield _gauge(
        "cleanrooms_discovery_accounts",
        "ACTIVE accounts in the last good discovery, after filters, before sharding.",
        status.accounts,
    )
    yield _gauge(
        "cleanrooms_discovery_last_success_timestamp_seconds",
        "Unix time of the last successful discovery; 0 if none yet.",
        status.last_success or 0.0,
    )
    yield _counter("cleanrooms_discovery_runs", "Discovery runs finished.", status.runs)
    yield _counter("cleanrooms_discovery_failures", "Discovery runs that failed.", status.failures)


class WorkerPoolCollector(Collector):
    """The poll worker processes: up, targets each owns, restarts."""

    def __init__(self, status: Callable[[], Sequence[WorkerStatus]]) -> None:
        self._status = status

    def describe(self) -> Iterator[Metric]:
        return iter([])

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "cleanrooms_exporter_poll_worker_up",
            "1 if the poll worker process is running.",
            labels=["worker"],
        )
        targets = GaugeMetricFamily(
            "cleanrooms_exporter_poll_worker_targets",
            "Targets the poll worker process owns.",
            labels=["worker"],
        )
        restarts = CounterMetricFamily(
            "cleanrooms_exporter_poll_worker_restarts",
            "Times the poll worker process died and was restarted.",
            labels=["worker"],
        )
        for worker in self._status():
            label = [str(worker.index)]
            up.add_metric(label, 1.0 if worker.up else 0.0)
            targets.add_metric(label, worker.targets)
            restarts.add_metric(label, worker.restarts)
        yield from (up, targets, restarts)


class ScheduleLagCollector(Collector):
    """How late each scheduled poll started, per collector, as a fraction of its interval.

    A histogram rather than a gauge of the worst recent lag: its counts are the same for
    every scraper (a "recent" window would depend on who scraped last), miss no poll
    between scrapes, and add up over poll worker processes; one bucket layout fits every
    interval because the unit is the interval. Labelled by collector, not target: about
    a dozen buckets per collector, however many targets.
    """

    def __init__(self, lags: Callable[[], Mapping[str, Histogram]]) -> None:
        self._lags = lags

    def describe(self) -> Iterator[Metric]:
        return iter([])

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            LAG,
            "How late each scheduled poll started after it was due, as a fraction of its "
            "collector's interval (0.1: a tenth of the interval). A job's first poll is not "
            "counted. Counted by the background poller.",
            labels=["collector"],
        )
        lags = self._lags()
        for name in sorted(lags, key=lambda n: (_ORDER.get(n, 0), n)):
            found = lags[name]
            family.add_metric([name], found.cumulative(), found.total)
        yield family
