"""What ListPrivacyBudgets answers, parsed into frozen data: the ``privacy_budgets`` model.

Both budget types of one membership: its differential-privacy budget (epsilon, and the
queries each aggregation allows and has left) and the access budget of each resource
(each period's limit, what is left, when the period ends and whether it then refreshes).
Anything a summary needs that is missing or of the wrong type makes it malformed:
skipped and counted by the caller, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from exporter.collectors.base import epoch_seconds

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
    """One period of an access budget: its limit, what is left, when it ends, and whether
    it refreshes then."""

    budget_type: str
    limit: int
    remaining: int
    end: float | None = None  # endTime, Unix seconds; None when AWS sends none
    auto_refresh: bool | None = None  # autoRefresh ENABLED / DISABLED; None when not sent


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
        period = _period(entry)
        if period is None:
            return None
        periods[period.budget_type] = period
    return Access(arn, tuple(periods[t] for t in sorted(periods)), aggregate, updated)


_REFRESH = {"ENABLED": True, "DISABLED": False}


def _period(entry: Any) -> Period | None:
    """One AccessBudgetDetails, or None when it is malformed."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get("budgetType"), str):
        return None
    limit, remaining = _count(entry.get("budget")), _count(entry.get("remainingBudget"))
    end = entry.get("endTime")
    if limit is None or remaining is None or (end is not None and epoch_seconds(end) is None):
        return None  # an endTime sent but not a time is malformed, not "no end"
    mode = entry.get("autoRefresh")
    refresh = _REFRESH.get(mode) if isinstance(mode, str) else None  # a new mode: not told
    return Period(entry["budgetType"], limit, remaining, epoch_seconds(end), refresh)
