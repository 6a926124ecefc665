"""The status page's cost table: CRPU-hours and failures per collaboration, priciest first."""

from __future__ import annotations

from types import MappingProxyType

from exporter.collectors.details import Details
from exporter.collectors.protected_analyses import AnalysesData, MembershipAnalyses
from exporter.collectors.status_counts import Tally
from exporter.core.model import CollectorState, Snapshot, Target
from exporter.web.spend import spend_rows, spending
from exporter.web.statuspage import render_status_page
from tests.unit.metrics.test_collector import snapshot
from tests.unit.web.test_statuspage import parse

TARGET = Target("111111111111", "us-east-1", "prod")


def membership(
    mid: str, units: tuple[float, ...], failed: int, running: int = 0
) -> MembershipAnalyses:
    recent = tuple((1000.0 + i, u) for i, u in enumerate(units))
    found = Tally({"FAILED": failed}, None, running, {}, {}, 0.0)
    return MembershipAnalyses(mid, found, details=Details(recent=recent))


def world() -> Snapshot:
    queries = AnalysesData(
        MappingProxyType({"c1": membership("m1", (1.5, 0.25), 2), "c2": membership("m2", (), 0)}),
        lookback=7200.0,
    )
    jobs = AnalysesData(
        MappingProxyType(
            {"c1": membership("m1", (3.0,), 1, running=1), "c3": membership("m3", (9.0,), 0)}
        )
    )
    return Snapshot(
        snapshot().states,
        MappingProxyType(
            {
                "protected_queries": {TARGET.key: CollectorState(TARGET, queries, up=True)},
                "protected_jobs": {TARGET.key: CollectorState(TARGET, jobs, up=True)},
            }
        ),
    )


def test_queries_and_jobs_are_summed_per_collaboration_most_expensive_first() -> None:
    found = [(s.collaboration_id, s.crpu_hours, s.failed, s.window) for s in spending(world())]
    assert found == [("c3", 9.0, 0, 86400.0), ("c1", 4.75, 3, 86400.0)]  # c2: nothing


def test_the_table_names_the_collaboration_first_and_the_window() -> None:
    (first, second) = spend_rows(world())
    assert (first.collaboration, first.account, first.over) == ("name c3", "prod", "last 24h")
    assert (second.collaboration, second.spend.collaboration_id) == ("name c1", "c1")
    rows = parse(render_status_page(world())).tables["spend"]
    assert rows == [
        ["name c3 c3", "prod", "us-east-1", "9.00", "0", "last 24h"],
        ["name c1 c1", "prod", "us-east-1", "4.75", "3", "last 24h"],
    ]
    assert 'id="no-spend"' in render_status_page(snapshot())


def test_an_unknown_collaboration_shows_its_id_and_the_window_may_be_minutes() -> None:
    queries = AnalysesData(MappingProxyType({"c9": membership("m9", (1.0,), 0)}), lookback=1800.0)
    only = Snapshot(
        snapshot().states,
        MappingProxyType({"protected_queries": {TARGET.key: CollectorState(TARGET, queries)}}),
    )
    (row,) = spend_rows(only)
    assert (row.collaboration, row.over) == ("", "last 30m")
    (cells,) = parse(render_status_page(only)).tables["spend"]
    assert cells[0] == "c9"
