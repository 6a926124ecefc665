"""The privacy_budgets collector against the fake: gauges equal the summaries, calls per poll."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

from exporter.collectors.budgets import BudgetsData
from exporter.collectors.privacy_budgets import build, findings


def summary(kind: str, budget: object, updated: float = 1_700_000_000) -> dict[str, object]:
    return {"type": kind, "budget": budget, "updateTime": datetime.fromtimestamp(updated, UTC)}


def test_malformed_budgets_are_skipped_and_counted_and_the_newest_wins() -> None:
    good = {"differentialPrivacy": {"epsilon": 2, "aggregations": []}}
    newer = {
        "differentialPrivacy": {
            "epsilon": 5,
            "aggregations": [{"type": "COUNT", "maxCount": 10, "remainingCount": 4}],
        }
    }
    negative = {
        "differentialPrivacy": {
            "epsilon": 1,
            "aggregations": [{"type": "COUNT", "maxCount": 10, "remainingCount": -1}],
        }
    }
    access = {
        "accessBudget": {
            "resourceArn": "arn:r",
            "details": [{"budgetType": "LIFETIME", "budget": 9, "remainingBudget": 2}],
            "aggregateRemainingBudget": 2,
        }
    }
    budgets, invalid = build(
        "m1",
        {
            "DIFFERENTIAL_PRIVACY": [
                summary("DIFFERENTIAL_PRIVACY", good),
                summary("DIFFERENTIAL_PRIVACY", newer, 1_700_000_100),
                summary("DIFFERENTIAL_PRIVACY", negative),
                summary("DIFFERENTIAL_PRIVACY", {"differentialPrivacy": "broken"}),
                summary("ACCESS_BUDGET", access),  # another type: filtered out, not an error
                "not a summary",
            ],
            "ACCESS_BUDGET": [
                summary("ACCESS_BUDGET", access),
                summary("ACCESS_BUDGET", {"accessBudget": {"resourceArn": "arn:x"}}),
            ],
        },
    )
    assert invalid == 4
    assert budgets.differential is not None
    assert budgets.differential.epsilon == 5
    assert [(a.type, a.max_count, a.remaining) for a in budgets.differential.aggregations] == [
        ("COUNT", 10, 4)
    ]
    assert [(a.resource_arn, a.aggregate_remaining) for a in budgets.access] == [("arn:r", 2)]


def access(details: list[object]) -> dict[str, object]:
    body = {"resourceArn": "arn:r", "details": details, "aggregateRemainingBudget": 0}
    return summary("ACCESS_BUDGET", {"accessBudget": body})


def test_each_period_keeps_its_end_time_and_whether_it_refreshes() -> None:
    ends = datetime.fromtimestamp(1_800_000_000, UTC)
    day = {"budgetType": "CALENDAR_DAY", "budget": 9, "remainingBudget": 0, "endTime": ends}
    periods = [
        {**day, "autoRefresh": "ENABLED"},
        {**day, "budgetType": "CALENDAR_WEEK", "autoRefresh": "DISABLED"},
        {"budgetType": "LIFETIME", "budget": 9, "remainingBudget": 3},
        {**day, "budgetType": "CALENDAR_MONTH", "autoRefresh": "SOMETIMES"},  # a new mode
    ]
    budgets, invalid = build("m1", {"ACCESS_BUDGET": [access(periods)]})
    assert invalid == 0
    (found,) = budgets.access
    got = {p.budget_type: (p.end, p.auto_refresh) for p in found.periods}
    assert got == {
        "CALENDAR_DAY": (1_800_000_000, True),
        "CALENDAR_WEEK": (1_800_000_000, False),
        "LIFETIME": (None, None),
        "CALENDAR_MONTH": (1_800_000_000, None),
    }


def test_an_end_time_that_is_not_a_time_makes_the_budget_malformed() -> None:
    period = {"budgetType": "CALENDAR_DAY", "budget": 9, "remainingBudget": 1}
    bad = [access([{**period, "endTime": "1e20"}]), access([{**period, "autoRefresh": [1]}])]
    budgets, invalid = build("m1", {"ACCESS_BUDGET": bad})
    assert invalid == 1  # the time; an autoRefresh of a wrong type is just not told
    assert [p.auto_refresh for a in budgets.access for p in a.periods] == [None]


def test_an_exhausted_access_budget_says_when_it_comes_back() -> None:
    ends = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    periods = [
        {
            "budgetType": "CALENDAR_DAY",
            "budget": 9,
            "remainingBudget": 0,
            "endTime": ends,
            "autoRefresh": "ENABLED",
        },
        {"budgetType": "LIFETIME", "budget": 90, "remainingBudget": 0, "endTime": ends},
        {
            "budgetType": "CALENDAR_WEEK",
            "budget": 90,
            "remainingBudget": 0,
            "endTime": ends,
            "autoRefresh": "DISABLED",
        },
    ]
    budgets, _ = build("m1", {"ACCESS_BUDGET": [access(periods)]})
    data = BudgetsData(MappingProxyType({"c1": budgets}))
    (finding,) = findings(("1", "r"), data)
    assert finding.kind == "Budgets exhausted"
    assert finding.what == (
        "access CALENDAR_DAY of arn:r: 0 of 9 left, refreshes 2027-01-15 08:00 UTC; "
        "access CALENDAR_WEEK of arn:r: 0 of 90 left, ends 2027-01-15 08:00 UTC, no refresh; "
        "access LIFETIME of arn:r: 0 of 90 left"
    )
