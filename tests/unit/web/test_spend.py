"""The status page's cost section: CRPU-hours and failures per collaboration, priciest first."""

from __future__ import annotations

from types import MappingProxyType

from exporter.collectors.details import Details
from exporter.collectors.protected_analyses import AnalysesData, MembershipAnalyses
from exporter.collectors.status_counts import Tally
from exporter.core.model import CollectorState, Snapshot, Target
from exporter.web.attention import findings
from exporter.web.spend import spend_section, spending
from tests.unit.metrics.test_collector import snapshot

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


def test_the_section_names_the_collaboration_and_the_window() -> None:
    section = spend_section(world())
    assert "<td>111111111111 (prod)</td><td>us-east-1</td><td>name c1</td><td>4.75</td>" in section
    assert "<td>last 24h</td>" in section
    assert 'id="no-spend"' in spend_section(snapshot())


def test_a_membership_at_its_concurrency_limit_is_to_act_on_first() -> None:
    (first, *_) = findings(world())
    assert first.membership_id == "m1"
    assert first.what == (
        "jobs at the concurrency limit: 1 running, AWS allows 1 per membership; more queue"
    )
