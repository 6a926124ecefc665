"""The privacy_budgets collector: ListPrivacyBudgets of every ACTIVE membership, both types.

Sample output::

    # HELP cleanrooms_privacy_budget_remaining_queries Differential-privacy queries left ...
    # TYPE cleanrooms_privacy_budget_remaining_queries gauge
    cleanrooms_privacy_budget_remaining_queries{account_id="1111",region="...",
        membership_id="m1",collaboration_id="c1",aggregation="COUNT"} 12
    cleanrooms_access_budget_remaining{...,resource_arn="arn:...",budget_type="CALENDAR_DAY"} 40

A membership without a budget of a type has no series of that type; that is not an error.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import MappingProxyType

from exporter.collectors import collaborations
from exporter.collectors.base import (
    Calls,
    CollectorSpec,
    PollContext,
    Polling,
    Probe,
    Rendering,
    Shown,
    TargetData,
)
from exporter.collectors.budgets import (
    ACCESS_BUDGET,
    DIFFERENTIAL_PRIVACY,
    OPERATION,
    BudgetsData,
    MembershipBudgets,
    Period,
    build,
)
from exporter.collectors.collaborations import (
    MEMBERSHIP_LABELS,
    Collaboration,
    active_only,
    per_membership,
)
from exporter.collectors.paging import list_all
from exporter.core.model import ACTION, AT_LIMIT, EXHAUSTED, RUNNING_LOW, Finding, TargetKey
from exporter.core.series import OutputSettings, Samples, gauge, label

log = logging.getLogger(__name__)


def poll(context: PollContext) -> BudgetsData:
    """Two paged ListPrivacyBudgets per ACTIVE membership, one per budget type."""
    invalid = 0

    def fetch(collaboration: Collaboration) -> MembershipBudgets:
        nonlocal invalid
        listed = {}
        for budget_type in (DIFFERENTIAL_PRIVACY, ACCESS_BUDGET):
            params = {
                "membershipIdentifier": collaboration.membership_id,
                "privacyBudgetType": budget_type,
            }
            summaries, _ = list_all(
                context.client, OPERATION, "privacyBudgetSummaries", params, context.max_pages
            )
            listed[budget_type] = summaries
        budgets, bad = build(collaboration.membership_id, listed)
        invalid += bad
        return budgets

    memberships = per_membership(context, OPERATION, fetch)
    if invalid:
        log.warning("skipped %d malformed privacy budget summaries", invalid)
    return BudgetsData(MappingProxyType(memberships), invalid)


REMAINING_QUERIES = gauge(
    "cleanrooms_privacy_budget_remaining_queries",
    "Differential-privacy queries left of each aggregation type (remainingCount).",
    *MEMBERSHIP_LABELS,
    "aggregation",
    fold="drop",
)
MAX_QUERIES = gauge(
    "cleanrooms_privacy_budget_max_queries",
    "Differential-privacy queries allowed of each aggregation type (maxCount).",
    *MEMBERSHIP_LABELS,
    "aggregation",
    fold="drop",
)
EPSILON = gauge(
    "cleanrooms_privacy_budget_epsilon",
    "Epsilon of the membership's differential-privacy budget.",
    *MEMBERSHIP_LABELS,
    fold="drop",
)
ACCESS_REMAINING = gauge(
    "cleanrooms_access_budget_remaining",
    "Access budget left of each resource in the current period (remainingBudget).",
    *MEMBERSHIP_LABELS,
    "resource_arn",
    "budget_type",
    fold="drop",
)
ACCESS_LIMIT = gauge(
    "cleanrooms_access_budget_limit",
    "Access budget of each resource per period (budget).",
    *MEMBERSHIP_LABELS,
    "resource_arn",
    "budget_type",
    fold="drop",
)
ACCESS_END = gauge(
    "cleanrooms_access_budget_end_timestamp_seconds",
    "When each period of a resource's access budget ends (endTime), Unix seconds; a "
    "period AWS gives no end has no series.",
    *MEMBERSHIP_LABELS,
    "resource_arn",
    "budget_type",
)
ACCESS_AUTO_REFRESH = gauge(
    "cleanrooms_access_budget_auto_refresh",
    "1 if the period's budget refreshes by itself when the period ends (autoRefresh "
    "ENABLED), 0 if not (DISABLED); no series when AWS does not say.",
    *MEMBERSHIP_LABELS,
    "resource_arn",
    "budget_type",
)
ACCESS_AGGREGATE = gauge(
    "cleanrooms_access_budget_aggregate_remaining",
    "Access budget left of each resource over all its periods (aggregateRemainingBudget).",
    *MEMBERSHIP_LABELS,
    "resource_arn",
    fold="drop",
)
# A budget belongs to one membership: no sum of budgets says how much any one has left,
# so at a detail level that merges memberships (or resources) they are left out.
FAMILIES = (
    REMAINING_QUERIES,
    MAX_QUERIES,
    EPSILON,
    ACCESS_REMAINING,
    ACCESS_LIMIT,
    ACCESS_AGGREGATE,
    ACCESS_END,
    ACCESS_AUTO_REFRESH,
)


def samples(item: TargetData[BudgetsData], _: OutputSettings, out: Samples) -> None:
    for collaboration_id, budgets in active_only(item, item.data.memberships):
        key = (label(budgets.membership_id), label(collaboration_id))
        if budgets.differential is not None:
            out.add(EPSILON, key, budgets.differential.epsilon)
            for aggregation in budgets.differential.aggregations:
                kind = (*key, label(aggregation.type))
                out.add(REMAINING_QUERIES, kind, aggregation.remaining)
                out.add(MAX_QUERIES, kind, aggregation.max_count)
        for access in budgets.access:
            resource = (*key, label(access.resource_arn))
            out.add(ACCESS_AGGREGATE, resource, access.aggregate_remaining)
            for period in access.periods:
                _period_samples(out, (*resource, label(period.budget_type)), period)


def _period_samples(out: Samples, labels: tuple[str, ...], period: Period) -> None:
    out.add(ACCESS_REMAINING, labels, period.remaining)
    out.add(ACCESS_LIMIT, labels, period.limit)
    if period.end is not None:
        out.add(ACCESS_END, labels, period.end)
    if period.auto_refresh is not None:
        out.add(ACCESS_AUTO_REFRESH, labels, 1.0 if period.auto_refresh else 0.0)


LOW = 0.10  # a budget with less than 10 % left is low, as CleanRoomsPrivacyBudgetLow says


def findings(key: TargetKey, data: BudgetsData, _: float = 0.0) -> list[Finding]:
    """Per membership: one row for its exhausted budgets, one for those running low."""
    # Exhausted: analyses that need the budget fail until it refreshes or is raised. Low:
    # they still run, and the budget is doing its job.
    kinds = {
        EXHAUSTED: ("Budgets exhausted", ACTION),
        RUNNING_LOW: ("Budgets running low", AT_LIMIT),
    }
    out = []
    for budgets in data.memberships.values():
        for urgency, parts, resources in _budget_problems(budgets):
            kind, severity = kinds[urgency]
            what, weight = "; ".join(parts), len(parts)
            mid = budgets.membership_id
            out.append(Finding(key, mid, urgency, what, resources, kind, severity, weight))
    return out


def _budget_problems(budgets: MembershipBudgets) -> list[tuple[int, list[str], tuple[str, ...]]]:
    found: dict[int, tuple[list[str], list[str]]] = {EXHAUSTED: ([], []), RUNNING_LOW: ([], [])}
    if budgets.differential is not None:
        for agg in budgets.differential.aggregations:
            urgency = _urgency(agg.remaining, agg.max_count)
            if urgency is not None:
                found[urgency][0].append(
                    f"differential privacy {agg.type}: {agg.remaining} of {agg.max_count} "
                    "queries left"
                )
    for access in budgets.access:
        for period in access.periods:
            urgency = _urgency(period.remaining, period.limit)
            if urgency is not None:
                found[urgency][0].append(
                    f"access {period.budget_type} of {access.resource_arn}: "
                    f"{period.remaining} of {period.limit} left{_refreshes(period)}"
                )
                found[urgency][1].append(access.resource_arn)
    return [
        (urgency, parts, tuple(dict.fromkeys(arns)))
        for urgency, (parts, arns) in found.items()
        if parts
    ]


def _refreshes(period: Period) -> str:
    """When the period's budget comes back by itself, for the status page; "" if unknown."""
    if period.end is None or period.auto_refresh is None:
        return ""
    when = datetime.fromtimestamp(period.end, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f", refreshes {when}" if period.auto_refresh else f", ends {when}, no refresh"


def _urgency(remaining: int, limit: int) -> int | None:
    if limit <= 0:
        return None
    if remaining <= 0:
        return EXHAUSTED
    return RUNNING_LOW if remaining < LOW * limit else None


SPEC: CollectorSpec[BudgetsData] = CollectorSpec(
    name="privacy_budgets",
    doc="Differential-privacy and access budgets of each ACTIVE membership: what is left.",
    order=70,
    polling=Polling(
        poll=poll,
        operations=(OPERATION,),
        calls=Calls(
            "Σ over ACTIVE memberships of ⌈D / 100⌉ + ⌈A / 100⌉, at least 1 + 1 each "
            "(D, A = differential-privacy and access budgets)",
            per_active=2,
        ),
        default_interval=300.0,
        fans_out_from=collaborations.NAME,
    ),
    rendering=Rendering(families=FAMILIES, samples=samples),
    shown=Shown(
        probe=Probe(
            lambda c: {
                "membershipIdentifier": c.membership_id,
                "privacyBudgetType": DIFFERENTIAL_PRIVACY,
            }
        ),
        findings=findings,
    ),
)
