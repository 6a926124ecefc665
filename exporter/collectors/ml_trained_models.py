"""The ml_trained_models collector: ListTrainedModels (Clean Rooms ML) of every ACTIVE membership.

Sample output::

    # TYPE cleanrooms_ml_trained_models gauge
    cleanrooms_ml_trained_models{account_id="1111",...,membership_id="m1",status="CREATE_FAILED"} 1
    # TYPE cleanrooms_ml_trained_models_failed_total counter
    cleanrooms_ml_trained_models_failed_total{account_id="1111",...,membership_id="m1"} 1
"""

from __future__ import annotations

from exporter.collectors import listings
from exporter.collectors.status_counts import StatusRules

KIND = listings.ListedKind(
    operation="ListTrainedModels",
    list_key="trainedModels",
    id_key="trainedModelArn",
    noun="trained models",
    rules=StatusRules(
        (
            "CREATE_PENDING",
            "CREATE_IN_PROGRESS",
            "CREATE_FAILED",
            "ACTIVE",
            "DELETE_PENDING",
            "DELETE_IN_PROGRESS",
            "DELETE_FAILED",
            "INACTIVE",
            "CANCEL_PENDING",
            "CANCEL_IN_PROGRESS",
            "CANCEL_FAILED",
        ),
        once=("CREATE_FAILED",),
        in_progress=listings.IN_PROGRESS,
    ),
    counts_name="cleanrooms_ml_trained_models",
    failed_name="cleanrooms_ml_trained_models_failed",
    oldest_name="cleanrooms_ml_trained_model_oldest_in_progress_age_seconds",
)

SPEC = listings.spec(
    KIND,
    "ml_trained_models",
    "Clean Rooms ML trained models of each ACTIVE membership: by status, failed, training age.",
    order=90,
    service="cleanroomsml",
    what="trained models",
)
