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

from exporter.collectors import details, protected_analyses
from exporter.collectors.status_counts import StatusRules

KIND = protected_analyses.AnalysisKind(
    name="protected_queries",
    operation="ListProtectedQueries",
    list_key="protectedQueries",
    noun="queries",
    singular="query",
    rules=StatusRules(
        ("SUBMITTED", "STARTED", "CANCELLED", "CANCELLING", "FAILED", "SUCCESS", "TIMED_OUT"),
        once=("SUCCESS", "FAILED", "CANCELLED", "TIMED_OUT"),
        in_progress=protected_analyses.RUNNING,
    ),
    counts_name="cleanrooms_protected_queries",
    finished_name="cleanrooms_protected_queries_finished",
    oldest_name="cleanrooms_protected_query_oldest_running_age_seconds",
    get=details.Get("GetProtectedQuery", "protectedQueryIdentifier", "protectedQuery"),
    prefix="cleanrooms_protected_query",
    membership_limit=5,  # AWS quota of queries running at once per membership, fixed
)

SPEC = protected_analyses.spec(
    KIND,
    "Protected queries of each ACTIVE membership: by status, finished, oldest running.",
    order=50,
    formula=(
        "Σ over ACTIVE memberships of ⌊Qₗ / 100⌋ + 1 at most, and at most "
        "`max_pages_per_poll` each (Qₗ = queries created within `lookback`), plus "
        "min(B, `details_per_poll`) Gets (B = finished queries waiting for their details)"
    ),
)
