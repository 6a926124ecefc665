"""Collector output from fixed snapshots: one golden exposition, staleness, scrape-time ages."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from exporter.collectors.base import epoch_seconds
from exporter.collectors.collaborations import Collaboration, build_poll_data, parse_summary
from exporter.core.model import CollectorState, PollError, Snapshot, Target
from exporter.core.stats import ApiStats
from exporter.metrics.scrape import ScrapeSettings, SnapshotMetrics
from tests.paths import GOLDEN as GOLDEN_DIR

GOLDEN = GOLDEN_DIR / "exposition.txt"
NOW = 1_800_000_000.0
DAY = 86400.0


def summary(cid: str, status: str, created: float, creator: str = "444444444444", **extra: str):
    return {
        "id": cid,
        "arn": f"arn:aws:cleanrooms:us-east-1:111111111111:collaboration/{cid}",
        "name": f"name {cid}",
        "creatorAccountId": creator,
        "creatorDisplayName": f"creator of {cid}",
        "createTime": datetime.fromtimestamp(created, UTC),
        "updateTime": datetime.fromtimestamp(created + 60, UTC),
        "memberStatus": status,
        **extra,
    }


def snapshot() -> Snapshot:
    prod = Target("111111111111", "us-east-1", "prod")
    data = build_poll_data(
        [
            summary("c1", "ACTIVE", NOW - 30 * DAY, membershipId="m1"),
            summary("c2", "INVITED", NOW - 2 * DAY),
            summary("c3", "INVITED", NOW - 3600, creator="999999999999"),
            summary("c4", "SUSPENDED", NOW - DAY),  # a status AWS may add later
            {"id": "broken"},
        ],
        pages=1,
        member_status=None,
    )
    good = CollectorState(
        target=prod,
        data=data,
        up=True,
        polled=True,
        polls=3,
        failures=1,
        last_success=NOW - 60,
        last_success_monotonic=NOW - 60,
        last_duration=0.25,
    )
    failing = CollectorState(
        target=Target("222222222222", "eu-west-2"),
        up=False,
        polled=True,
        polls=2,
        failures=2,
        consecutive_failures=2,
        last_duration=1.5,
        last_error=PollError("AssumeRole", "AccessDenied", "not authorized"),
    )
    return Snapshot(MappingProxyType({prod.key: good, failing.target.key: failing}))


def stats() -> ApiStats:
    api = ApiStats()
    key = ("111111111111", "us-east-1", "ListCollaborations")
    for _ in range(4):
        api.request(key)
    api.outcome(key, 0.04, None, False)
    api.outcome(key, 0.3, "ThrottlingException", True)
    api.request(("222222222222", "eu-west-2", "AssumeRole"))
    api.outcome(("222222222222", "eu-west-2", "AssumeRole"), None, "ConnectTimeout", False)
    return api


def registry(snap: Snapshot, now: float = NOW, **settings) -> CollectorRegistry:
    merged = {
        "stale_after": 900.0,
        "per_collaboration_metrics": True,
        "trusted_creator_accounts": ("444444444444",),
        **settings,
    }
    reg = CollectorRegistry()
    reg.register(
        SnapshotMetrics(
            lambda: snap, stats(), lambda: ScrapeSettings(**merged), lambda: now, lambda: now
        )
    )
    return reg


def normalised(reg: CollectorRegistry) -> str:
    text = generate_latest(reg).decode()
    return re.sub(r'(python_version|boto3_version|version)="[^"]*"', r'\1="X"', text)


def test_golden_exposition() -> None:
    text = normalised(registry(snapshot()))
    if os.environ.get("UPDATE_GOLDEN") == "1":  # after a deliberate contract change
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_stale_target_hides_collaborations_but_keeps_health() -> None:
    reg = registry(snapshot(), now=NOW + 901)
    labels = {"account_id": "111111111111", "region": "us-east-1"}
    assert (
        reg.get_sample_value("cleanrooms_collaborations", {**labels, "member_status": "ACTIVE"})
        is None
    )
    assert reg.get_sample_value("cleanrooms_pending_invitations_oldest_age_seconds", labels) is None
    assert reg.get_sample_value("cleanrooms_target_stale", labels) == 1
    assert reg.get_sample_value("cleanrooms_target_up", labels) == 1
    assert reg.get_sample_value("cleanrooms_target_polls_total", labels) == 3


def test_age_is_computed_at_scrape_time() -> None:
    labels = {"account_id": "111111111111", "region": "us-east-1"}
    for offset in (0, 120):
        reg = registry(snapshot(), now=NOW + offset)
        age = reg.get_sample_value("cleanrooms_pending_invitations_oldest_age_seconds", labels)
        assert age == pytest.approx(2 * DAY + offset)


def test_untrusted_series_only_when_list_set() -> None:
    text = generate_latest(registry(snapshot(), trusted_creator_accounts=())).decode()
    assert "cleanrooms_untrusted_pending_invitations" not in text


def test_never_polled_target_has_health_series() -> None:
    target = Target("333333333333", "us-east-1")
    snap = Snapshot(MappingProxyType({target.key: CollectorState(target=target)}))
    reg = registry(snap)
    labels = {"account_id": "333333333333", "region": "us-east-1"}
    assert reg.get_sample_value("cleanrooms_target_up", labels) == 0
    assert reg.get_sample_value("cleanrooms_target_stale", labels) == 1
    assert reg.get_sample_value("cleanrooms_target_last_success_timestamp_seconds", labels) == 0
    assert reg.get_sample_value("cleanrooms_target_polls_total", labels) == 0
    assert (
        reg.get_sample_value(
            "cleanrooms_api_requests_total", {**labels, "operation": "ListCollaborations"}
        )
        == 0
    )


def _reference_parse(item: Any) -> Collaboration | None:
    """The plain statement of what a valid summary is, for checking the collector's parse."""
    if not isinstance(item, Mapping):
        return None
    fields = ("id", "name", "creatorAccountId", "memberStatus")
    if not all(isinstance(item.get(k), str) and item.get(k) for k in fields):
        return None
    created = epoch_seconds(item.get("createTime"))
    updated = epoch_seconds(item.get("updateTime"))
    if created is None or updated is None:
        return None
    display, membership = item.get("creatorDisplayName"), item.get("membershipId")
    return Collaboration(
        item["id"],
        item["name"],
        item["creatorAccountId"],
        display if isinstance(display, str) else "",
        item["memberStatus"],
        membership if isinstance(membership, str) else "",
        created,
        updated,
    )


class _Text(str):
    pass


class _Moment(datetime):
    pass


def _variants() -> list[Any]:
    good = {**summary("c1", "ACTIVE", NOW), "membershipId": "m1"}
    odd_values: list[Any] = [None, "", 0, 1, [], {}, b"x", _Text("t"), True]
    found: list[Any] = [good, MappingProxyType(good), ["c1"], "c1", None, 7]
    for key in ("id", "name", "creatorAccountId", "memberStatus", "creatorDisplayName"):
        found += [{**good, key: value} for value in odd_values]
        found.append({k: v for k, v in good.items() if k != key})
    for key in ("createTime", "updateTime"):
        found += [
            {**good, key: datetime(2026, 1, 1)},  # naive: malformed
            {**good, key: _Moment(2026, 1, 1, tzinfo=UTC)},
            {**good, key: NOW},
            {**good, key: "2026-01-01T00:00:00Z"},
            {k: v for k, v in good.items() if k != key},
        ]
    found += [{**good, "membershipId": value} for value in odd_values]
    return found


@pytest.mark.parametrize("item", _variants())
def test_parse_summary_agrees_with_the_plain_rules(item: Any) -> None:
    assert parse_summary(item) == _reference_parse(item)
