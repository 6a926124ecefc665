"""The ml_collaboration_input_channels collector: the compute payer of every member's channels."""

from __future__ import annotations

from typing import Any

from exporter.collectors import ml_collaboration_input_channels
from exporter.collectors.collaboration_listings import SharedData
from tests.unit.collectors.stub_aws import StubAws, context, when

SPEC = ml_collaboration_input_channels.SPEC
KIND = ml_collaboration_input_channels.KIND
NOW = 1_800_000_000.0
US, PARTNER = "111111111111", "444444444444"


def channel(name: str, payer: Any) -> dict[str, Any]:
    found = {
        "mlInputChannelArn": f"arn:aws:cleanrooms-ml:us-east-1:{PARTNER}:channel/{name}",
        "status": "ACTIVE",
        "createTime": when(NOW - 60),
        "creatorAccountId": PARTNER,
    }
    if payer is not None:
        found["payerConfiguration"] = payer
    return found


def test_the_compute_payer_of_each_channel_and_none_guessed() -> None:
    aws = StubAws()
    listed = [
        channel("paid", {"computePayerAccountId": US, "syntheticDataPayerAccountId": PARTNER}),
        channel("synthetic-only", {"syntheticDataPayerAccountId": US}),
        channel("unsaid", None),
        channel("odd", {"computePayerAccountId": 12}),
    ]
    aws.put(KIND.operation, KIND.list_key, listed, collaborationIdentifier="c1")
    data: SharedData = SPEC.polling.poll(context(aws, now=NOW))
    groups = {group: t.counts["ACTIVE"] for group, t in data.per_collaboration["c1"].groups.items()}
    assert groups == {(PARTNER, US): 1, (PARTNER, ""): 3}
