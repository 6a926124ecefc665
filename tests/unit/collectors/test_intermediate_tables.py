"""The intermediate_tables collector: retention expiry and what is to act on."""

from __future__ import annotations

from datetime import UTC, datetime

from exporter.collectors import intermediate_tables
from exporter.collectors.base import TargetData
from exporter.collectors.collaborations import PollData
from exporter.collectors.listings import Listed, ListingsData
from exporter.collectors.status_counts import Item, tally
from exporter.core.model import ACTION, AT_LIMIT, FAILED_WORK, FAILING, RUNNING_LOW
from exporter.core.series import OutputSettings
from exporter.metrics.declared import families
from tests.helpers import active_collaboration

DAY = 86400.0
NOW = 1_800_000_000.0
KEY = ("111111111111", "us-east-1")


def iso(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


TABLE = Item(
    "t1",
    "POPULATE_SUCCESS",
    NOW - 10 * DAY,
    {"name": "daily", "updateTime": iso(NOW - 5 * DAY), "retentionInDays": 7},
)


def test_intermediate_tables_expire_from_their_last_population() -> None:
    assert intermediate_tables.expiry(TABLE) == NOW + 2 * DAY
    never = Item("t2", "CREATED", NOW - DAY, {"name": "x", "retentionInDays": 1})
    assert intermediate_tables.expiry(never) == NOW  # no updateTime: its creation
    assert intermediate_tables.expiry(Item("t3", "CREATED", NOW)) is None
    negative = Item("t4", "CREATED", NOW, {"retentionInDays": -1})
    assert intermediate_tables.expiry(negative) is None


def data() -> ListingsData:
    failed = Item("t4", "DISALLOWED_BY_DATA_PROVIDER", NOW - DAY, {"name": "p"})
    populate = Item("t5", "POPULATE_FAILED", NOW - DAY, {"name": "q"})
    found = tally(intermediate_tables.KIND.rules, [TABLE, failed, populate], None)
    return ListingsData({"c1": Listed("m1", found, (TABLE, failed, populate))})


def test_failed_unusable_and_expiring_tables_each_have_their_kind_and_colour() -> None:
    what = [
        (f.urgency, f.kind, f.severity, f.what)
        for f in intermediate_tables.findings(KEY, data(), NOW)
    ]
    assert what == [
        (FAILING, FAILED_WORK, ACTION, "intermediate tables: 1 POPULATE_FAILED"),
        (
            FAILING,
            intermediate_tables.UNUSABLE,
            ACTION,
            "intermediate tables: 1 DISALLOWED_BY_DATA_PROVIDER",
        ),
        # Retention works as designed: amber, not red.
        (
            RUNNING_LOW,
            intermediate_tables.EXPIRES,
            AT_LIMIT,
            "intermediate table daily: its data expires in 48h",
        ),
    ]


def test_each_table_with_a_retention_has_an_expiry_series() -> None:
    parent = PollData((active_collaboration("c1", "m1"),), {}, None)
    built = families(intermediate_tables.SPEC, [TargetData(KEY, data(), parent)], OutputSettings())
    by_name = {f.name: f for f in built}
    (expiry,) = by_name[intermediate_tables.EXPIRY.name].samples
    assert expiry.labels["name"] == "daily"
    assert expiry.value == NOW + 2 * DAY
    counts = {
        s.labels["status"]: s.value for s in by_name["cleanrooms_intermediate_tables"].samples
    }
    assert counts["DISALLOWED_BY_DATA_PROVIDER"] == 1
    assert counts["RETENTION_PERIOD_EXPIRED"] == 0
