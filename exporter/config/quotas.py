"""AWS Clean Rooms quotas that bound concurrency: documented defaults, and the config's overrides.

From the Clean Rooms user guide's quotas: at most 5 protected queries and 1 protected job
ongoing per membership (fixed); 5 concurrent SQL queries and 5 concurrent PySpark jobs per
account in us-east-1, 2 elsewhere, and 100 memberships per account (all three adjustable
through Service Quotas, so the config may override them: top-level ``quotas:`` for every
account, ``accounts[].quotas`` for one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FIXED = {"membership_concurrent_queries": 5, "membership_concurrent_jobs": 1}
ADJUSTABLE = (
    "account_concurrent_sql_queries",
    "account_concurrent_pyspark_jobs",
    "account_memberships",
)
QUOTAS = (*FIXED, *ADJUSTABLE)
BIG_REGION = "us-east-1"  # the one region whose concurrency defaults are 5, not 2

Overrides = tuple[tuple[str, int], ...]


def limits(region: str, overrides: Overrides = ()) -> dict[str, int]:
    """Every quota's limit for one (account, region): the default, or the override."""
    concurrency = 5 if region == BIG_REGION else 2
    found = {
        **FIXED,
        "account_concurrent_sql_queries": concurrency,
        "account_concurrent_pyspark_jobs": concurrency,
        "account_memberships": 100,
    }
    return found | dict(overrides)


class QuotaParser:
    """Validates a ``quotas:`` mapping for a parser that collects problems."""

    def __init__(self, problem: Any) -> None:
        self._problem = problem  # (path, message) -> None

    def parse(self, raw: Any, path: str) -> Overrides:
        if raw is None:
            return ()
        if not isinstance(raw, Mapping):
            self._problem(path, f"must be a mapping of {', '.join(ADJUSTABLE)} to numbers")
            return ()
        found = []
        for name, value in raw.items():
            where = f"{path}.{name}"
            if name in FIXED:
                self._problem(where, f"not adjustable: AWS fixes it at {FIXED[name]}")
            elif name not in ADJUSTABLE:
                self._problem(where, f"unknown quota; adjustable: {', '.join(ADJUSTABLE)}")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                self._problem(where, f"must be a positive integer, got {value!r}")
            else:
                found.append((str(name), value))
        return tuple(sorted(found))


def merged(top: Overrides, account: Overrides) -> Overrides:
    """The account's own overrides over the top-level ones."""
    return tuple(sorted((dict(top) | dict(account)).items()))
