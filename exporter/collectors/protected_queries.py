"""The protected_queries collector: ListProtectedQueries of every ACTIVE membership.

Sample output::

    # HELP cleanrooms_protected_queries Protected queries of each ACTIVE membership ...
    # TYPE cleanrooms_protected_queries gauge
    cleanrooms_protected_queries{account_id="1111",region="...",membership_id="m1",
        collaboration_id="c1",status="FAILED"} 2
    # TYPE cleanrooms_protected_queries_finished_total counter
    cleanrooms_protected_queries_finished_total{...,status="FAILED"} 7

Never calls GetProtectedQuery: the summaries carry the status and createTime.
"""

from __future__ import annotations

from exporter.collectors import analyses

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
)

SPEC = analyses.spec(
    KIND,
    "Protected queries of each ACTIVE membership: by status, finished, oldest running.",
)
