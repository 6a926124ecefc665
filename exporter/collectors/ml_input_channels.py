"""The ml_input_channels collector: ListMLInputChannels of every ACTIVE membership.

Sample output::

    # TYPE cleanrooms_ml_input_channels gauge
    cleanrooms_ml_input_channels{account_id="1111",...,membership_id="m1",status="ACTIVE"} 2
"""

from __future__ import annotations

from exporter.collectors import listings
from exporter.collectors.status_counts import StatusRules

KIND = listings.ListedKind(
    operation="ListMLInputChannels",
    list_key="mlInputChannelsList",
    id_key="mlInputChannelArn",
    noun="ML input channels",
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
        ),
        once=("CREATE_FAILED",),
        in_progress=listings.IN_PROGRESS,
    ),
    counts_name="cleanrooms_ml_input_channels",
    failed_name="cleanrooms_ml_input_channels_failed",
    oldest_name="cleanrooms_ml_input_channel_oldest_in_progress_age_seconds",
)

SPEC = listings.spec(
    KIND,
    "ml_input_channels",
    "Clean Rooms ML input channels of each ACTIVE membership: by status, failed, oldest pending.",
    order=110,
    service="cleanroomsml",
    what="input channels",
)
