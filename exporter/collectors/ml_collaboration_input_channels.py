"""The ml_collaboration_input_channels collector: every member's ML input channels.

ListCollaborationMLInputChannels of every ACTIVE collaboration: who created each channel,
who pays for the query compute that fills it (``payerConfiguration.computePayerAccountId``),
and this account's part. Sample output::

    # TYPE cleanrooms_ml_collaboration_input_channels gauge
    cleanrooms_ml_collaboration_input_channels{account_id="1111",...,creator_account_id="4444",
        payer_account_id="",account_role="neither",status="ACTIVE"} 2
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.collectors import collaboration_listings, listings, ml_input_channels


def _payer(fields: Mapping[str, Any]) -> str:
    configuration = fields.get("payerConfiguration")
    found = configuration.get("computePayerAccountId") if isinstance(configuration, dict) else None
    return found if isinstance(found, str) else ""


KIND = listings.ListedKind(
    operation="ListCollaborationMLInputChannels",
    list_key="collaborationMLInputChannelsList",
    id_key="mlInputChannelArn",
    noun="collaboration ML input channels",
    rules=ml_input_channels.KIND.rules,
    counts_name="cleanrooms_ml_collaboration_input_channels",
    failed_name="cleanrooms_ml_collaboration_input_channels_failed",
    oldest_name="cleanrooms_ml_collaboration_input_channel_oldest_in_progress_age_seconds",
    kept_fields=("creatorAccountId", "payerConfiguration"),
)

SPEC = collaboration_listings.spec(
    collaboration_listings.SharedKind(KIND, _payer),
    "ml_collaboration_input_channels",
    "Every member's Clean Rooms ML input channels in each ACTIVE collaboration: by creator, "
    "payer and status, failed, oldest pending.",
    order=113,
    what="input channels",
)
