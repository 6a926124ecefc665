"""The ml_collaboration_trained_models collector: every member's trained models, per collaboration.

ListCollaborationTrainedModels of every ACTIVE collaboration: who created each model, who
pays for its training (``mlModelTrainingPayerAccountId``), and this account's part. Each
version of a model is counted on its own. Sample output::

    # TYPE cleanrooms_ml_collaboration_trained_models gauge
    cleanrooms_ml_collaboration_trained_models{account_id="1111",...,creator_account_id="4444",
        payer_account_id="1111",account_role="payer",status="CREATE_FAILED"} 1
    # TYPE cleanrooms_ml_collaboration_trained_models_failed_total counter
    cleanrooms_ml_collaboration_trained_models_failed_total{...,account_role="payer"} 1
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.collectors import collaboration_listings, listings, ml_trained_models


def _payer(fields: Mapping[str, Any]) -> str:
    found = fields.get("mlModelTrainingPayerAccountId")
    return found if isinstance(found, str) else ""


KIND = listings.ListedKind(
    operation="ListCollaborationTrainedModels",
    list_key="collaborationTrainedModels",
    id_key="trainedModelArn",
    noun="collaboration trained models",
    rules=ml_trained_models.KIND.rules,
    counts_name="cleanrooms_ml_collaboration_trained_models",
    failed_name="cleanrooms_ml_collaboration_trained_models_failed",
    oldest_name="cleanrooms_ml_collaboration_trained_model_oldest_in_progress_age_seconds",
    kept_fields=("creatorAccountId", "mlModelTrainingPayerAccountId", "versionIdentifier"),
)

SPEC = collaboration_listings.spec(
    collaboration_listings.SharedKind(KIND, _payer, version_key="versionIdentifier"),
    "ml_collaboration_trained_models",
    "Every member's Clean Rooms ML trained models in each ACTIVE collaboration: by creator, "
    "payer and status, failed, oldest in training.",
    order=93,
    what="trained models",
)
