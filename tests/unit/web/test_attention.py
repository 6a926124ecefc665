"""The status page's "Memberships to act on": failed analyses and low budgets, per target."""

from __future__ import annotations

from types import MappingProxyType

from exporter.collectors.privacy_budgets import (
    Access,
    Aggregation,
    BudgetsData,
    Differential,
    MembershipBudgets,
    Period,
)
from exporter.collectors.protected_analyses import AnalysesData, MembershipAnalyses
from exporter.collectors.status_counts import Tally
from exporter.core.model import (
    EXHAUSTED,
    FAILING,
    RUNNING_LOW,
    CollectorState,
    Snapshot,
    Target,
)
from exporter.web.attention import attention_section, findings
from exporter.web.statuspage import render_status_page
from tests.unit.metrics.test_collector import snapshot

TARGET = Target("111111111111", "us-east-1", "prod")


def analyses(membership: str, **counts: int) -> MembershipAnalyses:
    return MembershipAnalyses(membership, Tally(counts, None, 0, {}, {}, 0.0))


def world() -> Snapshot:
    queries = AnalysesData(
        {
            "c1": analyses("m1", SUCCESS=9, FAILED=2, TIMED_OUT=1),
            "c2": analyses("m2", SUCCESS=5, CANCELLED=1),  # nothing failed: not listed
        }
    )
    budgets = BudgetsData(
        {
            "c1": MembershipBudgets(
                "m1",
                Differential(1, (Aggregation("SUM", 100, 9), Aggregation("COUNT", 100, 50)), 0),
                (
                    Access(
                        "arn:budget/<x>", (Period("DAILY", 10, 0), Period("WEEKLY", 70, 8)), 0, 0
                    ),
                ),
            ),
            "c2": MembershipBudgets("m2", None, ()),  # no budget of either type: fine
        }
    )
    return Snapshot(
        snapshot().states,
        MappingProxyType(
            {
                "protected_queries": {TARGET.key: CollectorState(TARGET, queries, up=True)},
                "privacy_budgets": {TARGET.key: CollectorState(TARGET, budgets, up=True)},
            }
        ),
    )


def test_most_urgent_first_one_row_per_membership_per_problem() -> None:
    found = [(f.membership_id, f.urgency, f.what) for f in findings(world())]
    assert found == [
        ("m1", EXHAUSTED, "budgets exhausted: access DAILY of arn:budget/<x> 0 of 10"),
        ("m1", FAILING, "queries failed recently: 2 FAILED, 1 TIMED_OUT"),
        ("m1", RUNNING_LOW, "budgets running low: differential privacy SUM 9 of 100"),
    ]  # WEEKLY 8 of 70 (11 %) and COUNT 50 of 100 are not low; m2 has nothing


def test_the_section_is_escaped_and_on_the_page() -> None:
    section = attention_section(world())
    assert "arn:budget/&lt;x&gt;" in section
    assert "<x>" not in section
    assert "<td>name c1</td>" in section  # the collaboration, found by its membership id
    page = render_status_page(world())
    assert '<table id="attention">' in page
    assert "Memberships to act on" in page


def test_rows_show_the_alias_and_resource_names_and_only_failures_are_red() -> None:
    arn = "arn:aws:cleanrooms:us-east-1:111111111111:membership/m1/configuredtableassociation/t9"
    budgets = BudgetsData(
        {"c1": MembershipBudgets("m1", None, (Access(arn, (Period("DAILY", 20, 1),), 1, 0),))}
    )
    state = CollectorState(TARGET, budgets, up=True)
    snap = Snapshot(
        MappingProxyType({TARGET.key: CollectorState(TARGET, up=True)}),
        MappingProxyType({"privacy_budgets": {TARGET.key: state}}),
    )
    section = attention_section(snap)
    assert "<td>111111111111 (prod)</td>" in section
    assert f'<span class="resource" title="{arn}">t9</span> 1 of 20' in section
    assert '<tr class="pending" data-urgency="2">' in section  # running low: not red
    assert 'class="failed"' not in section


def test_nothing_to_act_on_says_so() -> None:
    assert 'id="no-attention"' in attention_section(snapshot())
