"""The ml_inference_jobs collector: ListTrainedModelInferenceJobs of every ACTIVE membership.

Sample output::

    # TYPE cleanrooms_ml_inference_jobs gauge
    cleanrooms_ml_inference_jobs{account_id="1111",...,membership_id="m1",status="ACTIVE"} 3
    # TYPE cleanrooms_ml_inference_job_oldest_in_progress_age_seconds gauge
    cleanrooms_ml_inference_job_oldest_in_progress_age_seconds{...,membership_id="m1"} 5400
"""

from __future__ import annotations

from exporter.collectors import listings
from exporter.collectors.status_counts import StatusRules

KIND = listings.ListedKind(
    operation="ListTrainedModelInferenceJobs",
    list_key="trainedModelInferenceJobs",
    id_key="trainedModelInferenceJobArn",
    noun="ML inference jobs",
    rules=StatusRules(
        (
            "CREATE_PENDING",
            "CREATE_IN_PROGRESS",
            "CREATE_FAILED",
            "ACTIVE",
            "CANCEL_PENDING",
            "CANCEL_IN_PROGRESS",
            "CANCEL_FAILED",
            "INACTIVE",
        ),
        once=("CREATE_FAILED",),
        in_progress=listings.IN_PROGRESS,
    ),
    counts_name="cleanrooms_ml_inference_jobs",
    failed_name="cleanrooms_ml_inference_jobs_failed",
    oldest_name="cleanrooms_ml_inference_job_oldest_in_progress_age_seconds",
)

SPEC = listings.spec(
    KIND,
    "ml_inference_jobs",
    "Clean Rooms ML inference jobs of each ACTIVE membership: by status, failed, oldest running.",
    order=100,
    service="cleanroomsml",
    what="inference jobs",
)
