"""The exporter's own families, besides collectors' data: accounts, quotas, API tallies, build.

Pure functions, no clocks. Each per-target builder works on any list of targets, so
the collector can build a family from every target at once and the scrape renderer
from one target at a time (and cache that target's lines until its state changes).
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import metadata

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)

from exporter import __version__
from exporter.config.quotas import sourced
from exporter.core.model import Target, TargetKey
from exporter.core.series import COUNTED, POLLED, TARGET_LABELS, label
from exporter.core.stats import ApiStatsView, TargetApiCounts


def gauge(
    name: str, doc: str, labels: tuple[str, ...] = TARGET_LABELS, polled: str = POLLED
) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, f"{doc} {polled}", labels=list(labels))


def counter(name: str, doc: str, labels: tuple[str, ...] = TARGET_LABELS) -> CounterMetricFamily:
    return CounterMetricFamily(name, f"{doc} {COUNTED}", labels=list(labels))


def account_info(targets: Iterable[Target]) -> Metric:
    family = InfoMetricFamily(
        "cleanrooms_account",
        "Configured accounts and their aliases, value 1.",
        labels=["account_id"],
    )
    names: dict[str, str] = {}
    for target in targets:
        names.setdefault(target.account_id, target.account_name)
    for account_id, name in sorted(names.items()):
        family.add_metric([account_id], {"account_name": label(name)})
    return family


Applied = Mapping[TargetKey, Mapping[str, float]]  # Service Quotas' values, per target


def quota_limits(targets: Iterable[Target], applied: Applied | None = None) -> Metric:
    """The concurrency, vCPU and membership quotas that apply to each target, and whence."""
    family = GaugeMetricFamily(
        "cleanrooms_quota_limit",
        "AWS Clean Rooms quota of the target and where its value comes from (source): the "
        "configuration's override (quotas:), else the value Service Quotas applies (the "
        "service_quotas collector, hourly), else AWS's documented default for the region.",
        labels=[*TARGET_LABELS, "quota", "source"],
    )
    found = applied or {}
    for target in targets:
        limits = sourced(target.region, target.quotas, found.get(target.key))
        for quota, (limit, source) in sorted(limits.items()):
            family.add_metric([*target.key, quota, source], limit)
    return family


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
        family.add_metric([operation], hist.cumulative(), hist.total)
    return family


@cache
def _boto3_version() -> str:
    # Read once: importlib.metadata searches sys.path on disk, on every call.
    return metadata.version("boto3")


def exporter_families(target_count: int) -> list[Metric]:
    build = InfoMetricFamily("cleanrooms_exporter_build", "Exporter build information, value 1.")
    build.add_metric(
        [],
        {
            "version": __version__,
            "python_version": platform.python_version(),
            "boto3_version": _boto3_version(),
        },
    )
    targets = GaugeMetricFamily(
        "cleanrooms_exporter_targets", "Targets (account, region) configured."
    )
    targets.add_metric([], target_count)
    return [build, targets]


SERIES = "cleanrooms_exporter_series"


def series_family(counts: Mapping[str, int]) -> Metric:
    """Series of each enabled collector's families in this exposition."""
    family = GaugeMetricFamily(
        SERIES,
        "Series of the collector's own families in this exposition (ages included; its "
        "cleanrooms_collector_* health and the API series not), after the allow and deny "
        "lists and its detail level. Computed at scrape time.",
        labels=["collector"],
    )
    for name, count in counts.items():
        family.add_metric([name], count)
    return family
