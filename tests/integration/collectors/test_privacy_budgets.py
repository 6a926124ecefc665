"""The privacy_budgets collector against the fake: gauges equal the summaries, calls per poll."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from exporter.app import App
from exporter.demo.fake.analyses_store import table_arn
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy
from tests.helpers import Seeder, config, value

ON = "collectors: {privacy_budgets: {enabled: true}}\n"
DAY_ENDS = 1_900_000_000.0  # the day period's endTime


def seed_both(fake: FakeCleanRooms, a: str, region: str, both: Any) -> str:
    """A differential-privacy budget and an access budget; the access budget's resource."""
    now = time.time()
    key = (a, region, both.membership_id)
    fake.analyses.add_differential_budget(
        key, both.id, {"COUNT": (300, 12), "SUM": (200, 0), "AVG": (100, 99)}, epsilon=3, when=now
    )
    orders = table_arn(a, region, both.membership_id, "0f0f0f0f-0000-4000-8000-000000000001")
    periods = [("CALENDAR_DAY", 1000, 40, DAY_ENDS, True), ("LIFETIME", 50000, 30000)]
    fake.analyses.add_access_budget(key, both.id, orders, periods, when=now)
    return orders


def seed_many_access_budgets(
    fake: FakeCleanRooms, a: str, region: str, access_only: Any
) -> list[str]:
    """150 access budgets: two pages."""
    many = [
        table_arn(a, region, access_only.membership_id, f"0f0f0f0f-0000-4000-8000-{i:012d}")
        for i in range(150)
    ]
    for index, arn in enumerate(many):
        fake.analyses.add_access_budget(
            (a, region, access_only.membership_id),
            access_only.id,
            arn,
            [("CALENDAR_WEEK", 500, index)],
            when=time.time(),
        )
    return many


def assert_periods_end(exporter: App, resource: dict[str, str]) -> None:
    """The day ends (and refreshes) at its endTime; the lifetime budget has neither."""
    ends = "cleanrooms_access_budget_end_timestamp_seconds"
    refresh = "cleanrooms_access_budget_auto_refresh"
    assert value(exporter, ends, **resource, budget_type="CALENDAR_DAY") == DAY_ENDS
    assert value(exporter, refresh, **resource, budget_type="CALENDAR_DAY") == 1
    assert value(exporter, ends, **resource, budget_type="LIFETIME") is None
    assert value(exporter, refresh, **resource, budget_type="LIFETIME") is None


def test_budget_gauges_equal_the_summaries_and_two_calls_per_membership(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a, region = new_account(), "us-east-1"
    both, access_only, none = (seeder.add(a, region, "ACTIVE") for _ in range(3))
    orders = seed_both(fake, a, region, both)
    many = seed_many_access_budgets(fake, a, region, access_only)
    exporter = run_exporter(proxy.url, config(a, ON))
    where = {"account_id": a, "region": region}
    mine = {**where, "membership_id": both.membership_id, "collaboration_id": both.id}

    def dp(name: str, aggregation: str) -> float | None:
        return value(exporter, f"cleanrooms_privacy_budget_{name}", **mine, aggregation=aggregation)

    assert [dp("remaining_queries", t) for t in ("COUNT", "SUM", "AVG")] == [12, 0, 99]
    assert [dp("max_queries", t) for t in ("COUNT", "SUM", "AVG")] == [300, 200, 100]
    assert dp("remaining_queries", "STDDEV") is None  # not in the budget
    assert value(exporter, "cleanrooms_privacy_budget_epsilon", **mine) == 3
    resource = {**mine, "resource_arn": orders}
    remaining = "cleanrooms_access_budget_remaining"
    assert value(exporter, remaining, **resource, budget_type="CALENDAR_DAY") == 40
    assert value(exporter, remaining, **resource, budget_type="LIFETIME") == 30000
    limit = "cleanrooms_access_budget_limit"
    assert value(exporter, limit, **resource, budget_type="CALENDAR_DAY") == 1000
    assert value(exporter, limit, **resource, budget_type="LIFETIME") == 50000
    assert value(exporter, "cleanrooms_access_budget_aggregate_remaining", **resource) == 30 + 10
    assert_periods_end(exporter, resource)
    # None of a type is not an error: no series of that type, collector up.
    theirs = {
        **where,
        "membership_id": access_only.membership_id,
        "collaboration_id": access_only.id,
    }
    assert value(exporter, "cleanrooms_privacy_budget_epsilon", **theirs) is None
    last = {**theirs, "resource_arn": many[149], "budget_type": "CALENDAR_WEEK"}
    assert value(exporter, remaining, **last) == 149
    nothing = {**where, "membership_id": none.membership_id, "collaboration_id": none.id}
    assert value(exporter, "cleanrooms_privacy_budget_epsilon", **nothing) is None
    samples = [
        s
        for family in exporter.registry.collect()
        if family.name.startswith(("cleanrooms_privacy_budget", "cleanrooms_access_budget"))
        for s in family.samples
        if s.labels.get("membership_id") == none.membership_id
    ]
    assert samples == []
    health = {**where, "collector": "privacy_budgets"}
    assert value(exporter, "cleanrooms_collector_up", **health) == 1
    # Two calls per ACTIVE membership per page: 2 + 2 + (1 + 2 pages of access budgets).
    calls = proxy.calls("ListPrivacyBudgets", a)
    assert len(calls) == 2 + 2 + 3
    kinds = [c.query["privacyBudgetType"][0] for c in calls]
    assert kinds.count("DIFFERENTIAL_PRIVACY") == 3
    assert all(c.query["maxResults"] == ["100"] for c in calls)
