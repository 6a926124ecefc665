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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

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
    epoch_seconds,
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

OPERATION = "ListPrivacyBudgets"
DIFFERENTIAL_PRIVACY = "DIFFERENTIAL_PRIVACY"
ACCESS_BUDGET = "ACCESS_BUDGET"


@dataclass(frozen=True, slots=True)
class Aggregation:
    """Queries of one aggregation type a differential-privacy budget allows and has left."""

    type: str
    max_count: int
    remaining: int


@dataclass(frozen=True, slots=True)
class Differential:
    """A membership's differential-privacy budget."""

    epsilon: int
    aggregations: tuple[Aggregation, ...]
    updated: float


@dataclass(frozen=True, slots=True)
class Period:
    """One period of an access budget: its limit and what is left of it."""

    budget_type: str
    limit: int
    remaining: int


@dataclass(frozen=True, slots=True)
class Access:
    """The access budget of one resource (a configured table association or table)."""

    resource_arn: str
    periods: tuple[Period, ...]
    aggregate_remaining: int
    updated: float


@dataclass(frozen=True, slots=True)
class MembershipBudgets:
    """One membership's budgets; None or empty when it has none of a type."""

    membership_id: str
    differential: Differential | None
    access: tuple[Access, ...]


@dataclass(frozen=True, slots=True)
class BudgetsData:
    """One target's budgets per ACTIVE collaboration id."""

    memberships: Mapping[str, MembershipBudgets]
    invalid_items: int = 0


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


def build(membership_id: str, listed: Mapping[str, Iterable[Any]]) -> tuple[MembershipBudgets, int]:
    """Parse both listings. The type filter is applied again (a proxy may ignore it).

    Clean Rooms keeps one differential-privacy budget per membership and one access
    budget per resource; should a listing hold more, the most recently updated wins.
    """
    invalid = 0
    differential: Differential | None = None
    for item in listed.get(DIFFERENTIAL_PRIVACY, ()):
        if _of_type(item, DIFFERENTIAL_PRIVACY) is None:
            continue
        parsed = parse_differential(item)
        if parsed is None:
            invalid += 1
        elif differential is None or parsed.updated > differential.updated:
            differential = parsed
    access: dict[str, Access] = {}
    for item in listed.get(ACCESS_BUDGET, ()):
        if _of_type(item, ACCESS_BUDGET) is None:
            continue
        found = parse_access(item)
        if found is None:
            invalid += 1
        elif found.resource_arn not in access or found.updated > access[found.resource_arn].updated:
            access[found.resource_arn] = found
    ordered = tuple(access[arn] for arn in sorted(access))
    return MembershipBudgets(membership_id, differential, ordered), invalid


def _of_type(item: Any, budget_type: str) -> Any:
    """The item if it is (or might be: malformed) of ``budget_type``, else None."""
    if isinstance(item, Mapping) and isinstance(item.get("type"), str):
        return item if item["type"] == budget_type else None
    return item  # no usable type: malformed, counted by the parser


def _budget(item: Any, member: str) -> tuple[Mapping[str, Any], float] | None:
    if not isinstance(item, Mapping) or not isinstance(item.get("budget"), Mapping):
        return None
    body = item["budget"].get(member)
    updated = epoch_seconds(item.get("updateTime"))
    if not isinstance(body, Mapping) or updated is None:
        return None
    return body, updated


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_differential(item: Any) -> Differential | None:
    """A DIFFERENTIAL_PRIVACY summary, or None if anything it needs is missing or wrong."""
    found = _budget(item, "differentialPrivacy")
    if found is None:
        return None
    body, updated = found
    epsilon, raw = _count(body.get("epsilon")), body.get("aggregations")
    if epsilon is None or not isinstance(raw, list):
        return None
    aggregations: dict[str, Aggregation] = {}
    for entry in raw:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("type"), str):
            return None
        max_count, remaining = _count(entry.get("maxCount")), _count(entry.get("remainingCount"))
        if max_count is None or remaining is None:
            return None
        aggregations[entry["type"]] = Aggregation(entry["type"], max_count, remaining)
    ordered = tuple(aggregations[t] for t in sorted(aggregations))
    return Differential(epsilon, ordered, updated)


def parse_access(item: Any) -> Access | None:
    """An ACCESS_BUDGET summary, or None if anything it needs is missing or wrong."""
    found = _budget(item, "accessBudget")
    if found is None:
        return None
    body, updated = found
    arn, details = body.get("resourceArn"), body.get("details")
    aggregate = _count(body.get("aggregateRemainingBudget"))
    if not isinstance(arn, str) or not arn or not isinstance(details, list) or aggregate is None:
        return None
    periods: dict[str, Period] = {}
    for entry in details:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("budgetType"), str):
            return None
        limit, remaining = _count(entry.get("budget")), _count(entry.get("remainingBudget"))
        if limit is None or remaining is None:
            return None
        periods[entry["budgetType"]] = Period(entry["budgetType"], limit, remaining)
    return Access(arn, tuple(periods[t] for t in sorted(periods)), aggregate, updated)


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
                out.add(ACCESS_REMAINING, (*resource, label(period.budget_type)), period.remaining)
                out.add(ACCESS_LIMIT, (*resource, label(period.budget_type)), period.limit)


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
                    f"{period.remaining} of {period.limit} left"
                )
                found[urgency][1].append(access.resource_arn)
    return [
        (urgency, parts, tuple(dict.fromkeys(arns)))
        for urgency, (parts, arns) in found.items()
        if parts
    ]


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
