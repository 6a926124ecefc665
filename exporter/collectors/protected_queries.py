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

from collections.abc import Sequence

from prometheus_client.core import Metric

from exporter.collectors import analyses
from exporter.collectors.base import CollectorSpec, Fresh, PollContext

KIND = analyses.Kind(
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


def poll(context: PollContext) -> analyses.AnalysesData:
    """One ListProtectedQueries per ACTIVE membership, paged newest first down to lookback."""
    return analyses.poll(KIND, context)


def families(fresh: Sequence[Fresh]) -> list[Metric]:
    return analyses.families(KIND, fresh)


SPEC = CollectorSpec(
    name="protected_queries",
    doc="Protected queries of each ACTIVE membership: by status, finished, oldest running.",
    operations=(KIND.operation,),
    default_enabled=False,
    default_interval=60.0,
    fan_out=True,
    poll=poll,
    families=families,
    ages=(analyses.oldest_running(KIND),),
    options=(analyses.LOOKBACK,),
)
