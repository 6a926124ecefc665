"""The fake's protected queries, protected jobs and privacy budgets, per membership.

Answers ListProtectedQueries, ListProtectedJobs (newest first, optional status
filter), GetProtectedQuery and GetProtectedJob (with the statistics and error a
finished one was given) and ListPrivacyBudgets (by type, optional resource ARN),
paged like the API; an unknown membership is ResourceNotFound, as in moto's
memberships. The server checks every answer against botocore's model.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from exporter.demo.fake.api import (
    ErrorAnswer,
    Handler,
    Request,
    Route,
    Store,
    known_membership,
    paginate,
    register,
)

Key = tuple[str, str, str]  # (account_id, region, membership_id)
QUERIES, JOBS, BUDGETS = "protectedQueries", "protectedJobs", "privacyBudgetSummaries"


def membership_arn(account_id: str, region: str, membership_id: str) -> str:
    return f"arn:aws:cleanrooms:{region}:{account_id}:membership/{membership_id}"


def table_arn(account_id: str, region: str, membership_id: str, association_id: str) -> str:
    """The ARN of a configured table association, as an access budget names it."""
    base = membership_arn(account_id, region, membership_id)
    return f"{base}/configuredtableassociation/{association_id}"


@register
class AnalysesStore(Store):
    """Summaries as the API sends them, per (account, region, membership)."""

    name = "analyses"

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict[Key, list[dict[str, Any]]]] = {
            QUERIES: {},
            JOBS: {},
            BUDGETS: {},
        }
        # What a Get adds to a summary: statistics and error, by analysis id.
        self.outcomes: dict[str, dict[str, Any]] = {}
        self.gets: Counter[str] = Counter()  # Gets answered, by analysis id

    def routes(self) -> dict[Route, Handler]:
        return {
            ("cleanrooms", "ListProtectedQueries"): lambda r: self._list_analyses(r, QUERIES),
            ("cleanrooms", "ListProtectedJobs"): lambda r: self._list_analyses(r, JOBS),
            ("cleanrooms", "GetProtectedQuery"): lambda r: self._get(r, QUERIES, "protectedQuery"),
            ("cleanrooms", "GetProtectedJob"): lambda r: self._get(r, JOBS, "protectedJob"),
            ("cleanrooms", "ListPrivacyBudgets"): self._list_budgets,
        }

    # --- protected queries and jobs --------------------------------------------------

    def add_query(self, key: Key, created: float, status: str = "SUBMITTED") -> str:
        """A protected query of the membership ``key``; returns its id."""
        return self._add_analysis(QUERIES, key, created, status, "queryComputePayerAccountId")

    def add_job(self, key: Key, created: float, status: str = "SUBMITTED") -> str:
        """A protected job of the membership ``key``; returns its id."""
        return self._add_analysis(JOBS, key, created, status, "jobComputePayerAccountId")

    def _add_analysis(self, kind: str, key: Key, created: float, status: str, payer: str) -> str:
        account_id, _, membership_id = key
        analysis_id = str(uuid.uuid4())
        summary = {
            "id": analysis_id,
            "membershipId": membership_id,
            "membershipArn": membership_arn(*key),
            "createTime": created,
            "status": status,
            "receiverConfigurations": [{"analysisType": "DIRECT_ANALYSIS"}],
            payer: account_id,
        }
        with self.lock:
            self.items[kind].setdefault(key, []).append(summary)
        return analysis_id

    def set_status(
        self,
        kind: str,
        key: Key,
        analysis_id: str,
        status: str,
        *,
        units: float | None = None,
        duration_ms: int | None = None,
        error: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        """Move a query (``QUERIES``) or job (``JOBS``) to ``status``, with what a Get tells:
        billed CRPU-hours, duration and (for FAILED) the error code, and whether AWS says
        it is retryable (``error.retry.retryable``; left out when None)."""
        outcome: dict[str, Any] = {}
        if units is not None or duration_ms is not None:
            outcome["statistics"] = _statistics(units, duration_ms)
        if error is not None:
            outcome["error"] = {"code": error, "message": f"{error}: simulated"}
            if retryable is not None:
                outcome["error"]["retry"] = {"retryable": retryable}
        with self.lock:
            for summary in self.items[kind].get(key, []):
                if summary["id"] == analysis_id:
                    summary["status"] = status
            self.outcomes[analysis_id] = outcome

    def _get(self, request: Request, kind: str, answer_key: str) -> dict[str, Any]:
        membership_id = request.path["membershipIdentifier"]
        known_membership(request, membership_id)
        wanted = request.path[f"{answer_key}Identifier"]
        key = (request.account_id, request.region, membership_id)
        with self.lock:
            found = next((s for s in self.items[kind].get(key, []) if s["id"] == wanted), None)
            if found is None:
                raise ErrorAnswer(404, "ResourceNotFoundException", f"{answer_key} {wanted}")
            self.gets[wanted] += 1
            analysis = {k: found[k] for k in ("id", "membershipId", "membershipArn", "status")}
            analysis["createTime"] = found["createTime"]
            analysis.update(_copy(self.outcomes.get(wanted, {})))
        return {answer_key: analysis}

    def analyses(self, kind: str, key: Key) -> list[dict[str, Any]]:
        """Copies of the membership's queries or jobs, newest first."""
        with self.lock:
            found = [dict(s) for s in self.items[kind].get(key, [])]
        return sorted(found, key=lambda s: s["createTime"], reverse=True)

    def forget_before(self, kind: str, when: float) -> None:
        """Drop queries or jobs created before ``when`` (keeps a long demo's store small)."""
        with self.lock:
            for key, summaries in self.items[kind].items():
                self.items[kind][key] = [s for s in summaries if s["createTime"] >= when]

    def _list_analyses(self, request: Request, kind: str) -> dict[str, Any]:
        membership_id = request.path["membershipIdentifier"]
        known_membership(request, membership_id)
        status = request.query.get("status")
        key = (request.account_id, request.region, membership_id)
        found = [s for s in self.analyses(kind, key) if status is None or s["status"] == status]
        return paginate(found, request.query, kind)

    # --- privacy budgets -------------------------------------------------------------

    def add_differential_budget(
        self,
        key: Key,
        collaboration_id: str,
        aggregations: Mapping[str, tuple[int, int]],
        epsilon: int = 2,
        when: float = 0.0,
    ) -> str:
        """A DIFFERENTIAL_PRIVACY budget: aggregation type -> (maxCount, remainingCount)."""
        rows = [
            {"type": t, "maxCount": most, "remainingCount": left}
            for t, (most, left) in aggregations.items()
        ]
        budget = {"differentialPrivacy": {"aggregations": rows, "epsilon": epsilon}}
        return self._add_budget(key, collaboration_id, "DIFFERENTIAL_PRIVACY", budget, when)

    def add_access_budget(
        self,
        key: Key,
        collaboration_id: str,
        resource_arn: str,
        periods: Iterable[tuple[Any, ...]],
        when: float = 0.0,
    ) -> str:
        """An ACCESS_BUDGET of a resource: per period (budgetType, budget, remainingBudget),
        optionally followed by its endTime and autoRefresh (True: ENABLED)."""
        rows = list(periods)
        details = [_access_period(row, when) for row in rows]
        aggregate = min((row[2] for row in rows), default=0)
        body = {
            "accessBudget": {
                "resourceArn": resource_arn,
                "details": details,
                "aggregateRemainingBudget": aggregate,
            }
        }
        return self._add_budget(key, collaboration_id, "ACCESS_BUDGET", body, when)

    def _add_budget(
        self, key: Key, collaboration_id: str, kind: str, budget: dict[str, Any], when: float
    ) -> str:
        account_id, region, _ = key
        budget_id, template_id = str(uuid.uuid4()), str(uuid.uuid4())
        summary = {
            "id": budget_id,
            "privacyBudgetTemplateId": template_id,
            "privacyBudgetTemplateArn": (
                f"arn:aws:cleanrooms:{region}:{account_id}:privacybudgettemplate/{template_id}"
            ),
            "membershipId": key[2],
            "membershipArn": membership_arn(*key),
            "collaborationId": collaboration_id,
            "collaborationArn": (
                f"arn:aws:cleanrooms:{region}:{account_id}:collaboration/{collaboration_id}"
            ),
            "type": kind,
            "createTime": when,
            "updateTime": when,
            "budget": budget,
        }
        with self.lock:
            self.items[BUDGETS].setdefault(key, []).append(summary)
        return budget_id

    def update_budget(
        self, key: Key, budget_id: str, change: Callable[[dict[str, Any]], None], when: float
    ) -> None:
        """Apply ``change`` to a budget's ``budget`` member, under the lock; stamp updateTime."""
        with self.lock:
            for summary in self.items[BUDGETS].get(key, []):
                if summary["id"] == budget_id:
                    change(summary["budget"])
                    summary["updateTime"] = when

    def budget_ids(self, key: Key) -> list[tuple[str, str]]:
        """(id, type) of the membership's budgets."""
        with self.lock:
            return [(s["id"], s["type"]) for s in self.items[BUDGETS].get(key, [])]

    def _list_budgets(self, request: Request) -> dict[str, Any]:
        membership_id = request.path["membershipIdentifier"]
        known_membership(request, membership_id)
        kind = request.query.get("privacyBudgetType")
        if kind not in {"DIFFERENTIAL_PRIVACY", "ACCESS_BUDGET"}:
            raise ErrorAnswer(400, "ValidationException", "privacyBudgetType is required")
        resource = request.query.get("accessBudgetResourceArn")
        key = (request.account_id, request.region, membership_id)
        with self.lock:
            found = [
                _copy(s)
                for s in self.items[BUDGETS].get(key, [])
                if s["type"] == kind and resource in {None, _resource(s)}
            ]
        return paginate(found, request.query, BUDGETS)


def _access_period(row: tuple[Any, ...], start: float) -> dict[str, Any]:
    kind, limit, left, *rest = row
    detail = {"startTime": start, "remainingBudget": left, "budget": limit, "budgetType": kind}
    if rest:
        detail["endTime"] = rest[0]
    if len(rest) > 1:
        detail["autoRefresh"] = "ENABLED" if rest[1] else "DISABLED"
    return detail


def _resource(summary: Mapping[str, Any]) -> str | None:
    access = summary["budget"].get("accessBudget")
    return access["resourceArn"] if access else None


def _statistics(units: float | None, duration_ms: int | None) -> dict[str, Any]:
    statistics: dict[str, Any] = {}
    if duration_ms is not None:
        statistics["totalDurationInMillis"] = duration_ms
    if units is not None:
        statistics["billedResourceUtilization"] = {"units": units}
    return statistics


def _copy(value: Any) -> Any:
    """A deep copy of plain JSON data, so a page never changes while it is sent."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
