"""The protected_queries collector: ListProtectedQueries of every ACTIVE membership.

Sample output::

    # HELP cleanrooms_protected_queries Protected queries of each ACTIVE membership ...
    # TYPE cleanrooms_protected_queries gauge
    cleanrooms_protected_queries{account_id="1111",region="...",membership_id="m1",
        collaboration_id="c1",status="FAILED"} 2
    # TYPE cleanrooms_protected_queries_finished_total counter
    cleanrooms_protected_queries_finished_total{...,status="FAILED"} 7

With ``details`` on (the default), one GetProtectedQuery per query first seen finished.
"""

from __future__ import annotations

from exporter.collectors import analyses, details

KIND = analyses.Kind(
    name="protected_queries",
    operation="ListProtectedQueries",
    list_key="protectedQueries",
    noun="queries",
    one="query",
    statuses=("SUBMITTED", "STARTED", "CANCELLED", "CANCELLING", "FAILED", "SUCCESS", "TIMED_OUT"),
    terminal=("SUCCESS", "FAILED", "CANCELLED", "TIMED_OUT"),
    counts_name="cleanrooms_protected_queries",
    finished_name="cleanrooms_protected_queries_finished",
    oldest_name="cleanrooms_protected_query_oldest_running_age_seconds",
    get=details.Get("GetProtectedQuery", "protectedQueryIdentifier", "protectedQuery"),
    prefix="cleanrooms_protected_query",
    membership_limit=5,  # AWS quota of queries running at once per membership, fixed
)

SPEC = analyses.spec(
    KIND,
    "Protected queries of each ACTIVE membership: by status, finished, oldest running.",
)
