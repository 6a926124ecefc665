"""The ml_collaboration_inference_jobs collector: every member's inference jobs, per collaboration.

ListCollaborationTrainedModelInferenceJobs of every ACTIVE collaboration: who started each
job, who pays for it (``mlModelInferencePayerAccountId``), and this account's part. Sample
output::

    # TYPE cleanrooms_ml_collaboration_inference_jobs gauge
    cleanrooms_ml_collaboration_inference_jobs{account_id="1111",...,creator_account_id="4444",
        payer_account_id="1111",account_role="payer",status="ACTIVE"} 3
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.collectors import collaboration_listings, listings, ml_inference_jobs


def _payer(fields: Mapping[str, Any]) -> str:
    found = fields.get("mlModelInferencePayerAccountId")
    return found if isinstance(found, str) else ""


KIND = listings.ListedKind(
    operation="ListCollaborationTrainedModelInferenceJobs",
    list_key="collaborationTrainedModelInferenceJobs",
    id_key="trainedModelInferenceJobArn",
    noun="collaboration ML inference jobs",
    rules=ml_inference_jobs.KIND.rules,
    counts_name="cleanrooms_ml_collaboration_inference_jobs",
    failed_name="cleanrooms_ml_collaboration_inference_jobs_failed",
    oldest_name="cleanrooms_ml_collaboration_inference_job_oldest_in_progress_age_seconds",
    kept_fields=("creatorAccountId", "mlModelInferencePayerAccountId"),
)

SPEC = collaboration_listings.spec(
    collaboration_listings.SharedKind(KIND, _payer),
    "ml_collaboration_inference_jobs",
    "Every member's Clean Rooms ML inference jobs in each ACTIVE collaboration: by creator, "
    "payer and status, failed, oldest running.",
    order=103,
    what="inference jobs",
)
