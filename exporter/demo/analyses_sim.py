"""The demo's analyses: protected queries and jobs, and the privacy budgets they spend.

Every ACTIVE membership gets a query every few seconds; most succeed, some fail (with
one of a few error codes) or time out, and now and then one hangs. Each finished one has
a simulated cost (CRPU-hours) and duration, as GetProtectedQuery tells. One membership
per target runs as many queries as its quota allows, so the concurrency alerts have
something to show. Each successful query spends one query of a differential-privacy
aggregation and one unit of an access budget; an exhausted budget refreshes a few
minutes later, except one per target, spent from the start, whose daily period refreshes
at its end time (the next midnight UTC), as AWS's do. All of it lives in the fake's store.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

from exporter.demo.fake.analyses_store import JOBS, QUERIES, AnalysesStore, Key, table_arn

HOUR = 3600.0
DAY = 24 * HOUR
HISTORY = 2 * HOUR  # as far back as the demo's lookback
SETTLED = HOUR  # queries older than this are left alone: the seeded long runner stays STARTED
QUERY_OUTCOMES = (("SUCCESS", 0.8), ("FAILED", 0.1), ("TIMED_OUT", 0.05), ("CANCELLED", 0.05))
JOB_OUTCOMES = (("SUCCESS", 0.85), ("FAILED", 0.1), ("CANCELLED", 0.05))
AGGREGATIONS = {"COUNT": 40, "SUM": 30, "AVG": 20}
# Each code with whether AWS marks it retryable (error.retry.retryable): capacity and
# internal errors pass, a broken query or a missing source does not.
ERROR_CODES = {
    "InsufficientCapacity": True,
    "InvalidQuery": False,
    "DataSourceUnavailable": False,
    "InternalError": True,
}
RUNTIMES = {QUERIES: (20.0, 1800.0), JOBS: (120.0, 5400.0)}  # seconds a finished one ran
WORKERS = (4, 8, 16)  # CRPUs an analysis runs on: its cost is CRPUs x hours
MEMBERSHIP_QUERY_LIMIT = 5  # AWS quota of queries running at once per membership


class AnalysesActivity:
    """Seeds and moves the analyses of the demo's ACTIVE memberships."""

    def __init__(self, rng: random.Random, clock: Callable[[], float], store: AnalysesStore):
        self._rng = rng
        self._clock = clock
        self._store = store
        self._stalled: set[str] = set()  # queries this run lets hang
        self._at_limit: set[Key] = set()  # memberships kept at their query quota

    def seed(self, account_id: str, region: str, collaborations: Iterable[Any]) -> None:
        """Two hours of history per membership, budgets for most, one long-running query."""
        now, rng = self._clock(), self._rng
        for index, collaboration in enumerate(collaborations):
            key = (account_id, region, collaboration.membership_id)
            for age in range(int(HISTORY), 0, -rng.randint(240, 480)):
                self._store.add_query(key, now - age, _pick(rng, QUERY_OUTCOMES))
            for age in range(int(HISTORY), 0, -rng.randint(900, 1800)):
                self._store.add_job(key, now - age, _pick(rng, JOB_OUTCOMES))
            if index == 0:  # one per target: running since before the stuck threshold,
                # with the others its membership runs, at the quota: they all hang.
                self._store.add_query(key, now - 70 * 60, "STARTED")
                self._at_limit.add(key)
                self._keep_at_limit(key)
                self._seed_spent_budget(key, collaboration.id, now)
            if rng.random() < 0.7:
                self._seed_budgets(key, collaboration.id, now)

    def _seed_budgets(self, key: Key, collaboration_id: str, now: float) -> None:
        rng = self._rng
        left = {t: (most, rng.randint(2, most)) for t, most in AGGREGATIONS.items()}
        self._store.add_differential_budget(
            key, collaboration_id, left, epsilon=rng.randint(1, 5), when=now
        )
        for number in range(rng.randint(0, 2)):
            arn = table_arn(*key, f"00000000-0000-4000-8000-{number:012d}")
            daily = rng.choice((200, 500, 1000))
            near_limit = rng.randint(3, 25)  # the demo's access budgets run close to empty
            periods = [("CALENDAR_DAY", daily, near_limit), ("LIFETIME", 50 * daily, 20 * daily)]
            self._store.add_access_budget(key, collaboration_id, arn, periods, when=now)

    def _seed_spent_budget(self, key: Key, collaboration_id: str, now: float) -> None:
        """An access budget spent for the day: it refreshes by itself at the next midnight."""
        arn = table_arn(*key, "00000000-0000-4000-8000-0000000000ee")
        midnight = (now // DAY + 1) * DAY
        periods = [("CALENDAR_DAY", 100, 0, midnight, True), ("LIFETIME", 100_000, 50_000)]
        self._store.add_access_budget(key, collaboration_id, arn, periods, when=now)

    def step(self, memberships: Iterable[tuple[Key, str]]) -> int:
        """One tick for every ACTIVE membership (key, collaboration id); queries finished."""
        finished = 0
        for key, _ in memberships:
            self._keep_at_limit(key)
            finished += self._advance(QUERIES, key, QUERY_OUTCOMES)
            self._advance(JOBS, key, JOB_OUTCOMES)
            if self._rng.random() < 0.3:
                query = self._store.add_query(key, self._clock())
                if self._rng.random() < 0.005:
                    self._stalled.add(query)
            if self._rng.random() < 0.08:
                self._store.add_job(key, self._clock())
            self._refresh_budgets(key)
        self._store.forget_before(QUERIES, self._clock() - 2 * HISTORY)
        self._store.forget_before(JOBS, self._clock() - 2 * HISTORY)
        return finished

    def _advance(self, kind: str, key: Key, outcomes: tuple[tuple[str, float], ...]) -> int:
        """SUBMITTED ones start; started ones finish now and then. Returns successes."""
        now, successes = self._clock(), 0
        for summary in self._store.analyses(kind, key):  # newest first
            if summary["createTime"] < now - SETTLED:
                break
            if summary["id"] in self._stalled:
                continue
            status = summary["status"]
            if status == "SUBMITTED":
                self._store.set_status(kind, key, summary["id"], "STARTED")
            elif status == "STARTED" and self._rng.random() < 0.6:
                outcome = _pick(self._rng, outcomes)
                self._finish(kind, key, summary["id"], outcome)
                if kind == QUERIES and outcome == "SUCCESS":
                    successes += 1
                    self._spend(key)
        return successes

    def _keep_at_limit(self, key: Key) -> None:
        """Hanging queries, so the membership runs its quota's worth within the lookback."""
        if key not in self._at_limit:
            return
        now = self._clock()
        running = [
            s
            for s in self._store.analyses(QUERIES, key)
            if s["status"] in ("SUBMITTED", "STARTED") and s["createTime"] >= now - HISTORY
        ]
        for _ in range(MEMBERSHIP_QUERY_LIMIT - len(running)):
            self._stalled.add(self._store.add_query(key, now, "STARTED"))

    def _finish(self, kind: str, key: Key, analysis_id: str, outcome: str) -> None:
        """Finish an analysis with what a Get of it tells: its cost, duration, error."""
        rng = self._rng
        seconds = rng.uniform(*RUNTIMES[kind])
        error = rng.choice(sorted(ERROR_CODES)) if outcome == "FAILED" else None
        units = round(seconds / HOUR * rng.choice(WORKERS), 4)
        self._store.set_status(
            kind,
            key,
            analysis_id,
            outcome,
            units=units,
            duration_ms=int(seconds * 1000),
            error=error,
            retryable=None if error is None else ERROR_CODES[error],
        )

    def _spend(self, key: Key) -> None:
        """A successful query spends one query of an aggregation and one unit of access."""
        now, pick = self._clock(), self._rng.choice(sorted(AGGREGATIONS))

        def spend(budget: dict[str, Any]) -> None:
            if "differentialPrivacy" in budget:
                for row in budget["differentialPrivacy"]["aggregations"]:
                    if row["type"] == pick:
                        row["remainingCount"] = max(0, row["remainingCount"] - 1)
            else:
                access = budget["accessBudget"]
                for row in access["details"]:
                    row["remainingBudget"] = max(0, row["remainingBudget"] - 1)
                access["aggregateRemainingBudget"] = _lowest(access)

        for budget_id, _ in self._store.budget_ids(key):
            self._store.update_budget(key, budget_id, spend, now)

    def _refresh_budgets(self, key: Key) -> None:
        """An exhausted budget refreshes after a few minutes (on average)."""
        if self._rng.random() >= 0.02:
            return
        now = self._clock()

        def refresh(budget: dict[str, Any]) -> None:
            if "differentialPrivacy" in budget:
                for row in budget["differentialPrivacy"]["aggregations"]:
                    if row["remainingCount"] == 0:
                        row["remainingCount"] = row["maxCount"]
                return
            access = budget["accessBudget"]
            for row in access["details"]:
                if "endTime" in row:  # refreshes when its period ends, as AWS's do
                    if now >= row["endTime"]:
                        row.update(remainingBudget=row["budget"], endTime=row["endTime"] + DAY)
                elif row["budgetType"] == "CALENDAR_DAY" and row["remainingBudget"] == 0:
                    row["remainingBudget"] = self._rng.randint(3, 25)  # near the limit again
            access["aggregateRemainingBudget"] = min(
                r["remainingBudget"] for r in access["details"]
            )

        for budget_id, _ in self._store.budget_ids(key):
            self._store.update_budget(key, budget_id, refresh, self._clock())


def _lowest(access: dict[str, Any]) -> int:
    """What is left over all periods: the least any period has left."""
    return min(int(row["remainingBudget"]) for row in access["details"])


def _pick(rng: random.Random, outcomes: tuple[tuple[str, float], ...]) -> str:
    statuses = [status for status, _ in outcomes]
    return rng.choices(statuses, [weight for _, weight in outcomes])[0]
