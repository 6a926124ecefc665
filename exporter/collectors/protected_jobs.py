"""The protected_jobs collector: ListProtectedJobs of every ACTIVE membership.

Sample output::

    # HELP cleanrooms_protected_jobs Protected jobs of each ACTIVE membership ...
    # TYPE cleanrooms_protected_jobs gauge
    cleanrooms_protected_jobs{account_id="1111",region="...",membership_id="m1",
        collaboration_id="c1",status="FAILED"} 2
    # TYPE cleanrooms_protected_jobs_finished_total counter
    cleanrooms_protected_jobs_finished_total{...,status="FAILED"} 7

Never calls GetProtectedJob: the summaries carry the status and createTime.
"""

from __future__ import annotations

from exporter.collectors import analyses

KIND = analyses.Kind(
    name="protected_jobs",
    operation="ListProtectedJobs",
    list_key="protectedJobs",
    noun="jobs",
    one="job",
    statuses=("SUBMITTED", "STARTED", "CANCELLED", "CANCELLING", "FAILED", "SUCCESS"),
    terminal=("SUCCESS", "FAILED", "CANCELLED"),
    counts_name="cleanrooms_protected_jobs",
    finished_name="cleanrooms_protected_jobs_finished",
    oldest_name="cleanrooms_protected_job_oldest_running_age_seconds",
)

SPEC = analyses.spec(
    KIND,
    "Protected jobs of each ACTIVE membership: by status, finished, oldest running.",
)
