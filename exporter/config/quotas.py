"""AWS Clean Rooms quotas that bound concurrency: documented defaults, applied values, overrides.

From the Clean Rooms user guide's quotas: at most 5 protected queries and 1 protected job
ongoing per membership (fixed); 5 concurrent SQL queries and 5 concurrent PySpark jobs per
account in us-east-1, 2 elsewhere; 512 concurrent vCPUs for SQL queries, and for PySpark
jobs 1,024 in us-east-1 and 512 elsewhere; 100 memberships per account (all five
adjustable through Service Quotas, so the config may override them: top-level ``quotas:``
for every account, ``accounts[].quotas`` for one).

Which value a target's quota takes, and its ``source``: the configuration's (``config``),
else the one Service Quotas applies to the account (``applied``, when the
``service_quotas`` collector has fresh data), else the documented default (``default``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FIXED = {"membership_concurrent_queries": 5, "membership_concurrent_jobs": 1}
ADJUSTABLE = (
    "account_concurrent_sql_queries",
    "account_concurrent_pyspark_jobs",
    "account_concurrent_sql_vcpus",
    "account_concurrent_pyspark_vcpus",
    "account_memberships",
)
QUOTAS = (*FIXED, *ADJUSTABLE)
BIG_REGION = "us-east-1"  # the one region with higher concurrency defaults
CONFIG, APPLIED, DEFAULT = "config", "applied", "default"  # where a limit comes from

Overrides = tuple[tuple[str, int], ...]


def defaults(region: str) -> dict[str, int]:
    """Every quota's documented default in ``region``."""
    big = region == BIG_REGION
    return {
        **FIXED,
        "account_concurrent_sql_queries": 5 if big else 2,
        "account_concurrent_pyspark_jobs": 5 if big else 2,
        "account_concurrent_sql_vcpus": 512,
        "account_concurrent_pyspark_vcpus": 1024 if big else 512,
        "account_memberships": 100,
    }


def limits(region: str, overrides: Overrides = ()) -> dict[str, int]:
    """Every quota's limit for one (account, region): the default, or the override."""
    return defaults(region) | dict(overrides)


def sourced(
    region: str, overrides: Overrides = (), applied: Mapping[str, float] | None = None
) -> dict[str, tuple[float, str]]:
    """Every quota's (limit, source): the configuration's, else applied, else the default.

    Applied values of quotas the exporter does not know are left out; the fixed ones are
    what AWS applies too, so they take it when Service Quotas lists them.
    """
    found: dict[str, tuple[float, str]] = {q: (v, DEFAULT) for q, v in defaults(region).items()}
    for quota, value in (applied or {}).items():
        if quota in found:
            found[quota] = (value, APPLIED)
    for quota, value in overrides:
        found[quota] = (value, CONFIG)
    return found


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
