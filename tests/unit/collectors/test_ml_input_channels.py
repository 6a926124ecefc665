"""The ml_input_channels collector: its kind, counted by status per ACTIVE membership."""

from __future__ import annotations

from datetime import UTC, datetime

from exporter.collectors import ml_input_channels
from exporter.collectors.base import TargetData
from exporter.collectors.collaborations import PollData
from exporter.collectors.listings import Listed, ListingsData, findings
from exporter.collectors.status_counts import parse_items, tally
from exporter.core.model import ACTION, INFO
from exporter.core.series import OutputSettings
from exporter.metrics.declared import families
from tests.helpers import active_collaboration

NOW = 1_800_000_000.0
KEY = ("111111111111", "us-east-1")
KIND = ml_input_channels.KIND


def summary(rid: str, status: str, age: float) -> dict[str, object]:
    return {
        "mlInputChannelArn": rid,
        "status": status,
        "createTime": datetime.fromtimestamp(NOW - age, UTC),
    }


def test_failed_and_stuck_ones_are_counted_and_to_act_on() -> None:
    items, invalid = parse_items(
        [
            summary("arn:f", "CREATE_FAILED", 60),
            summary("arn:s", "CREATE_IN_PROGRESS", 7 * 3600),
            {"status": "ACTIVE"},
        ],
        KIND.id_key,
    )
    assert invalid == 1
    found = Listed("m1", tally(KIND.rules, items, None), tuple(items))
    data = ListingsData({"c1": found, "c2": Listed("m2", tally(KIND.rules, [], None))})
    what = [(f.severity, f.membership_id, f.what) for f in findings(KIND, KEY, data, NOW)]
    assert what == [
        (ACTION, "m1", f"{KIND.noun} failed: 1 in CREATE_FAILED"),
        # Training can take hours: worth knowing, not a failure.
        (INFO, "m1", f"{KIND.noun}: the oldest has been in progress for 7h"),
    ]
    # Only the still ACTIVE collaborations have series.
    parent = PollData((active_collaboration("c1", "m1"),), {}, None)
    built = families(ml_input_channels.SPEC, [TargetData(KEY, data, parent)], OutputSettings())
    counts = {s.labels["status"]: s.value for s in built[0].samples}
    assert counts["CREATE_FAILED"] == 1
    assert {s.labels["collaboration_id"] for s in built[0].samples} == {"c1"}
    assert [f.name for f in built] == [KIND.counts_name, KIND.failed_name]
