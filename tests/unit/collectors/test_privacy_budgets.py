"""The privacy_budgets collector against the fake: gauges equal the summaries, calls per poll."""

from __future__ import annotations

from datetime import UTC, datetime

from exporter.collectors.privacy_budgets import build


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
