"""The status page's findings: what collectors find, grouped by kind, then by collaboration."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from exporter.collectors import protected_jobs, protected_queries
from exporter.collectors.budgets import (
    Access,
    Aggregation,
    BudgetsData,
    Differential,
    MembershipBudgets,
    Period,
)
from exporter.collectors.collaborations import Collaboration, PollData
from exporter.collectors.listings import Listed, ListingsData
from exporter.collectors.protected_analyses import AnalysesData, MembershipAnalyses
from exporter.collectors.status_counts import Tally
from exporter.core.model import (
    ACTION,
    AT_LIMIT,
    EXHAUSTED,
    FAILED_WORK,
    FAILING,
    INFO,
    RUNNING_LOW,
    CollectorState,
    Finding,
    Snapshot,
    Target,
)
from exporter.web import attention
from exporter.web.attention import LISTED, SHOWN, findings, groups
from exporter.web.statuspage import render_status_page
from tests.unit.metrics.test_collector import snapshot
from tests.unit.web.test_statuspage import parse

TARGET = Target("111111111111", "us-east-1", "prod")


def analyses(membership: str, **counts: int) -> MembershipAnalyses:
    return MembershipAnalyses(membership, Tally(counts, None, 0, {}, {}, 0.0))


def world(**collectors: object) -> Snapshot:
    """The metrics tests' collaborations (c1 ACTIVE, membership m1) and these collectors."""
    return Snapshot(
        snapshot().states,
        MappingProxyType(
            {
                name: {TARGET.key: CollectorState(TARGET, data, up=True)}
                for name, data in collectors.items()
            }
        ),
    )


def budgets_world() -> Snapshot:
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
    return world(protected_queries=queries, privacy_budgets=budgets)


def test_most_urgent_first_one_row_per_membership_per_problem() -> None:
    found = [
        (f.membership_id, f.urgency, f.kind, f.severity, f.what) for f in findings(budgets_world())
    ]
    assert found == [
        (
            "m1",
            EXHAUSTED,
            "Budgets exhausted",
            ACTION,
            "access DAILY of arn:budget/<x>: 0 of 10 left",
        ),
        (
            "m1",
            FAILING,
            FAILED_WORK,
            ACTION,
            "queries failed in the last 24h: 2 FAILED, 1 TIMED_OUT",
        ),
        (
            "m1",
            RUNNING_LOW,
            "Budgets running low",
            AT_LIMIT,
            "differential privacy SUM: 9 of 100 queries left",
        ),
    ]  # WEEKLY 8 of 70 (11 %) and COUNT 50 of 100 are not low; m2 has nothing


def test_a_membership_at_its_concurrency_quota_queues_and_is_amber_not_red() -> None:
    jobs = AnalysesData({"c1": analyses("m1", STARTED=1, SUBMITTED=2, SUCCESS=4)})
    queries = AnalysesData({"c1": analyses("m1", STARTED=5, SUBMITTED=1)})
    found = {
        f.what: (f.kind, f.severity, f.weight)
        for f in findings(world(protected_jobs=jobs, protected_queries=queries))
    }
    assert found == {
        "jobs: 1 running; AWS allows 1 at once; 2 more are waiting": (
            "At the concurrency limit",
            AT_LIMIT,
            2,
        ),
        "queries: 5 running; AWS allows 5 at once; 1 more is waiting": (
            "At the concurrency limit",
            AT_LIMIT,
            1,
        ),
    }
    assert protected_jobs.KIND.membership_limit == 1
    # Submitted ones that wait while fewer than the quota run: nothing to say yet.
    quiet = AnalysesData({"c1": analyses("m1", STARTED=4, SUBMITTED=3)})
    assert findings(world(protected_queries=quiet)) == []
    # Above AWS's default: the account's quota was raised, so "AWS allows 5" would be false.
    raised = AnalysesData({"c1": analyses("m1", STARTED=7)})
    (finding,) = findings(world(protected_queries=raised))
    assert finding.what == (
        "queries: 7 running; more than AWS's default of 5 at once (a raised quota); none waiting"
    )
    assert protected_queries.KIND.membership_limit == 5


def test_kinds_group_findings_most_pressing_first_with_counts() -> None:
    (exhausted, failed, low) = groups(budgets_world())
    assert [
        (g.kind, g.severity, g.memberships, g.collaborations, g.size)
        for g in (exhausted, failed, low)
    ] == [
        ("Budgets exhausted", ACTION, 1, 1, 1),
        (FAILED_WORK, ACTION, 1, 1, 1),
        ("Budgets running low", AT_LIMIT, 1, 1, 1),
    ]
    (row,) = failed.shown
    assert (row.collaboration, row.collaboration_id, row.account) == ("name c1", "c1", "prod")


def test_findings_of_memberships_no_longer_active_are_dropped_like_their_series() -> None:
    # c2 is INVITED in the metrics tests' collaborations: its membership's data is old.
    queries = AnalysesData({"c2": analyses("m-gone", FAILED=3), "c1": analyses("m1", FAILED=1)})
    assert [f.membership_id for f in findings(world(protected_queries=queries))] == ["m1"]


def test_a_finding_without_a_kind_is_listed_under_its_collector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def plain(key, data, now):
        return [Finding(key, "m1", RUNNING_LOW, "something new")]

    monkeypatch.setattr(
        attention, "_findings_of", lambda spec: plain if spec.name == "protected_queries" else None
    )
    (group,) = groups(world(protected_queries=AnalysesData({})))
    assert (group.kind, group.severity) == ("protected_queries", AT_LIMIT)  # severity from urgency
    with pytest.raises(ValueError, match="severity 'red'"):
        Finding(TARGET.key, "m1", FAILING, "x", severity="red")


def many_failed(count: int) -> Snapshot:
    """``count`` memberships with failed queries, in collaborations the page knows."""
    states = dict(snapshot().states)
    collaborations = tuple(
        Collaboration(
            f"c{i:03d}", f"collab {i:03d}", "444444444444", "C", "ACTIVE", f"m{i:03d}", 0.0, 0.0
        )
        for i in range(count)
    )
    data = PollData(collaborations, {"ACTIVE": count}, None)
    states[TARGET.key] = CollectorState(TARGET, data, up=True, polled=True)
    queries = AnalysesData(
        {f"c{i:03d}": analyses(f"m{i:03d}", FAILED=1 + i % 7) for i in range(count)}
    )
    return Snapshot(
        MappingProxyType(states),
        MappingProxyType(
            {"protected_queries": {TARGET.key: CollectorState(TARGET, queries, up=True)}}
        ),
    )


def test_a_long_kind_shows_its_worst_few_and_folds_the_rest() -> None:
    (group,) = groups(many_failed(LISTED + 30))
    assert len(group.shown) == SHOWN[ACTION]
    assert len(group.shown) + len(group.more) == LISTED  # past that, only counted
    assert group.unlisted == 30
    assert group.size == group.memberships == LISTED + 30
    weights = [r.finding.weight for r in (*group.shown, *group.more)]
    assert weights == sorted(weights, reverse=True), "worst first"
    assert weights[0] == 7
    page = render_status_page(many_failed(LISTED + 30))
    tables = parse(page)
    assert len(tables.tables["findings"]) == LISTED  # the shown table and the folded one
    assert "and 77 more</summary>" in page  # 47 folded and 30 unlisted
    assert '<p class="meta unlisted" data-count="30">30 more not listed here' in page


def test_rows_of_one_collaboration_share_its_cell() -> None:
    queries = AnalysesData({"c1": analyses("m1", FAILED=2)})
    jobs = AnalysesData({"c1": analyses("m1", FAILED=1)})
    (group,) = groups(world(protected_queries=queries, protected_jobs=jobs))
    assert [(r.span, r.finding.what.split()[0]) for r in group.shown] == [
        (2, "queries"),
        (0, "jobs"),
    ]
    assert group.collaborations == group.memberships == 1
    page = render_status_page(world(protected_queries=queries, protected_jobs=jobs))
    assert '<td class="collaboration" rowspan="2"' in page


def test_the_findings_are_escaped_and_on_the_page() -> None:
    page = render_status_page(budgets_world())
    assert "arn:budget/&lt;x&gt;" in page
    assert "<x>" not in page
    assert "Findings, most pressing first" in page
    rows = parse(page).tables["findings"]
    assert rows[0][0] == "name c1 c1"  # the collaboration's name first, then its id


def test_rows_show_the_alias_and_resource_names_and_only_failures_are_red() -> None:
    arn = "arn:aws:cleanrooms:us-east-1:111111111111:membership/m1/configuredtableassociation/t9"
    budgets = BudgetsData(
        {"c1": MembershipBudgets("m1", None, (Access(arn, (Period("DAILY", 20, 1),), 1, 0),))}
    )
    page = render_status_page(world(privacy_budgets=budgets))
    assert f'<span class="resource" title="{arn}">t9</span>: 1 of 20 left' in page
    assert '<tr class="finding at_limit" data-severity="at_limit" data-urgency="2"' in page
    assert 'class="finding action"' not in page
    assert "prod &middot; us-east-1" in page
    assert 'data-severity="action"' not in page


def test_information_groups_start_folded_and_the_others_open() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    # A training job in progress for 7 hours (information) next to a failed query (action).
    running = Tally({"CREATE_IN_PROGRESS": 1}, now.timestamp() - 7 * 3600, 1, {}, {})
    training = Listed("m1", running)
    page = render_status_page(
        world(
            protected_queries=AnalysesData({"c1": analyses("m1", FAILED=1)}),
            ml_trained_models=ListingsData({"c1": training}),
        ),
        now=now,
    )
    assert f'<details class="group {ACTION}" open data-kind="{FAILED_WORK}"' in page
    assert f'<details class="group {INFO}" data-kind="Running for hours"' in page
    assert page.index(FAILED_WORK) < page.index("Running for hours")


def test_nothing_to_act_on_says_so() -> None:
    assert 'id="no-findings"' in render_status_page(snapshot())
    assert groups(snapshot()) == []
