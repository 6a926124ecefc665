"""A target with many collectors' data over two ACTIVE memberships, for the cardinality tests.

Collaborations c1 (membership m1) and c2 (m2) are ACTIVE, c3 INVITED; memberships,
members, change requests, both analyses collectors (which share a family), privacy
budgets, intermediate tables (per-item series) and audiences (an age per item) all have
data. ``World`` renders it with the library and with the cached renderer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from exporter.collectors import ml_audiences
from exporter.collectors.budgets import (
    Access,
    Aggregation,
    BudgetsData,
    Differential,
    MembershipBudgets,
    Period,
)
from exporter.collectors.change_requests import ChangeRequestsData, Pending
from exporter.collectors.collaborations import build_poll_data
from exporter.collectors.details import Details, Waiting
from exporter.collectors.listings import Listed, ListingsData
from exporter.collectors.members import MembersData
from exporter.collectors.memberships import Membership, MembershipsData
from exporter.collectors.protected_analyses import AnalysesData, MembershipAnalyses
from exporter.collectors.status_counts import Item, Tally
from exporter.config.collectors import CollectorSchedule
from exporter.core.histogram import Histogram
from exporter.core.model import CollectorState, Snapshot, Target
from exporter.metrics.exposition import ExpositionRenderer
from exporter.metrics.scrape import ScrapeSettings, SnapshotMetrics
from tests.unit.metrics.test_collector import DAY, NOW, stats, summary

TARGET = Target("111111111111", "us-east-1", "prod")
ACTIVE = {"c1": "m1", "c2": "m2"}
HEALTHY = {
    "polled": True,
    "up": True,
    "polls": 2,
    "last_success": NOW - 30,
    "last_success_monotonic": NOW - 30,
}
COLLECTORS = (
    "memberships",
    "members",
    "change_requests",
    "protected_queries",
    "protected_jobs",
    "privacy_budgets",
    "intermediate_tables",
    "ml_audiences",
)


def tally(counts: dict[str, int], once: dict[str, int], oldest: float | None = None) -> Tally:
    return Tally(MappingProxyType(counts), oldest, 1 if oldest else 0, MappingProxyType(once), {})


def analyses(finished: dict[str, dict[str, int]]) -> AnalysesData:
    """Per ACTIVE collaboration: counts by status, finished counters, cost, errors."""
    per = {}
    for cid, mid in ACTIVE.items():
        found = Details(
            (Waiting(f"{mid}-w"),),
            MappingProxyType({"SUCCESS": 0.5}),
            MappingProxyType({("ERR", "false"): 1}),
            MappingProxyType({}),
        )
        counts = tally({"STARTED": 1, "SUCCESS": 2}, finished.get(cid, {}), NOW - 600)
        per[cid] = MembershipAnalyses(mid, counts, details=found)
    histogram = Histogram.empty((1.0, 10.0)).add(3.0)
    return AnalysesData(MappingProxyType(per), 0, MappingProxyType({"SUCCESS": histogram}))


def tables() -> ListingsData:
    per = {}
    for cid, mid in ACTIVE.items():
        items = tuple(
            Item(f"{mid}-t{i}", "CREATED", NOW - DAY, {"name": f"t{i}", "retentionInDays": i})
            for i in (1, 2)
        )
        per[cid] = Listed(mid, tally({"CREATED": 2}, {"POPULATE_FAILED": 1}), items)
    return ListingsData(MappingProxyType(per))


def audiences() -> ml_audiences.AudiencesData:
    models = (
        Item("a1", "ACTIVE", NOW - 3 * DAY, {"name": "shoppers"}),
        Item("a2", "ACTIVE", NOW - 9 * DAY, {"name": "travellers"}),
    )
    listed = (
        Listed("", tally({"ACTIVE": 2}, {"CREATE_FAILED": 0}), models),
        Listed("", tally({"ACTIVE": 0}, {})),
        Listed("", tally({"COMPLETED": 1}, {"FAILED": 0})),
    )
    return ml_audiences.AudiencesData(listed)


def budgets() -> BudgetsData:
    per = {}
    for cid, mid in ACTIVE.items():
        differential = Differential(3, (Aggregation("COUNT", 10, 4),), NOW - DAY)
        access = tuple(
            Access(f"arn:aws:cleanrooms:t/{mid}-{i}", (Period("DAILY", 5, i),), i, NOW)
            for i in (1, 2)
        )
        per[cid] = MembershipBudgets(mid, differential, access)
    return BudgetsData(MappingProxyType(per))


def collector_data(finished: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    memberships = tuple(
        Membership(mid, cid, f"name {cid}", "ACTIVE", True) for cid, mid in ACTIVE.items()
    )
    return {
        "memberships": MembershipsData(memberships, {"ACTIVE": 2, "REMOVED": 0}),
        "members": MembersData({cid: {"ACTIVE": 2, "LEFT": 1} for cid in ACTIVE}),
        "change_requests": ChangeRequestsData({"c1": Pending(1, NOW - 7200)}),
        "protected_queries": analyses(finished or {"c1": {"FAILED": 3}, "c2": {"FAILED": 4}}),
        "protected_jobs": analyses({"c1": {"FAILED": 1}}),
        "privacy_budgets": budgets(),
        "intermediate_tables": tables(),
        "ml_audiences": audiences(),
    }


def primary(active: dict[str, str] = ACTIVE) -> CollectorState[Any]:
    summaries = [
        summary(cid, "ACTIVE", NOW - 30 * DAY, membershipId=mid) for cid, mid in active.items()
    ]
    summaries.append(summary("c3", "INVITED", NOW - 2 * DAY))
    data = build_poll_data(summaries, pages=1, member_status=None)
    return CollectorState(TARGET, data, **HEALTHY)


def snapshot(data: dict[str, Any], active: dict[str, str] = ACTIVE) -> Snapshot:
    found = {
        name: {TARGET.key: CollectorState(TARGET, value, **HEALTHY)}
        for name, value in data.items()
        if value is not None
    }
    return Snapshot(MappingProxyType({TARGET.key: primary(active)}), MappingProxyType(found))


SETTINGS = ScrapeSettings(
    900.0,
    True,
    (),
    tuple(CollectorSchedule(name, 60, 900) for name in COLLECTORS),
)


class _Restricted(Collector):
    """The library's own name[] semantics (``Metric._restricted_metric``) over a collector."""

    def __init__(self, collector: SnapshotMetrics, names: Collection[str]) -> None:
        self.collector, self.names = collector, set(names)

    def collect(self) -> Iterator[Metric]:
        for metric in self.collector.collect():
            kept = metric._restricted_metric(self.names)  # type: ignore[attr-defined]
            if kept is not None:
                yield kept


class World:
    """What both renderers read; a test changes it between scrapes."""

    def __init__(self, settings: ScrapeSettings = SETTINGS) -> None:
        self.snapshot = snapshot(collector_data())
        self.settings = settings
        self.collector = SnapshotMetrics(
            lambda: self.snapshot, stats(), lambda: self.settings, lambda: NOW, lambda: NOW
        )
        self.renderer = ExpositionRenderer(self.collector)

    def library(self, accept: str, names: Collection[str] | None = None) -> bytes:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector if names is None else _Restricted(self.collector, names))
        return bytes(choose_encoder(accept)[0](registry))

    def same(self, accept: str = "text/plain", names: Collection[str] | None = None) -> str:
        """The cached rendering, checked byte for byte against the library's."""
        body, _ = self.renderer.render(accept, names)
        assert body == self.library(accept, names)
        return body.decode()

    def with_detail(self, **levels: str) -> None:
        self.settings = replace(self.settings, detail=tuple(levels.items()))
