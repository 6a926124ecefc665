"""The protected_jobs collector: ListProtectedJobs of every ACTIVE membership.

Sample output::

    # HELP cleanrooms_protected_jobs Protected jobs of each ACTIVE membership ...
    # TYPE cleanrooms_protected_jobs gauge
    cleanrooms_protected_jobs{account_id="1111",region="...",membership_id="m1",
        collaboration_id="c1",status="FAILED"} 2
    # TYPE cleanrooms_protected_jobs_finished_total counter
    cleanrooms_protected_jobs_finished_total{...,status="FAILED"} 7

With ``details`` on (the default), one GetProtectedJob per job first seen finished.
"""

from __future__ import annotations

from exporter.collectors import details, protected_analyses
from exporter.collectors.status_counts import StatusRules

KIND = protected_analyses.AnalysisKind(
    name="protected_jobs",
    operation="ListProtectedJobs",
    list_key="protectedJobs",
    noun="jobs",
    singular="job",
    rules=StatusRules(
        ("SUBMITTED", "STARTED", "CANCELLED", "CANCELLING", "FAILED", "SUCCESS"),
        once=("SUCCESS", "FAILED", "CANCELLED"),
        in_progress=protected_analyses.RUNNING,
    ),
    counts_name="cleanrooms_protected_jobs",
    finished_name="cleanrooms_protected_jobs_finished",
    oldest_name="cleanrooms_protected_job_oldest_running_age_seconds",
    get=details.Get("GetProtectedJob", "protectedJobIdentifier", "protectedJob"),
    prefix="cleanrooms_protected_job",
    membership_limit=1,  # AWS quota of jobs running at once per membership, fixed
)

SPEC = protected_analyses.spec(
    KIND,
    "Protected jobs of each ACTIVE membership: by status, finished, oldest running.",
    order=60,
    formula=("the same for jobs (Jₗ, B = jobs)"),
)
