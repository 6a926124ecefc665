"""The collaborations collector: its parse, its counts and the families settings switch off."""

from __future__ import annotations

from datetime import UTC, datetime

from exporter.collectors import collaborations
from exporter.collectors.base import TargetData
from exporter.core.series import OutputSettings
from exporter.metrics.declared import families

KEY = ("111111111111", "us-east-1")
AT = datetime.fromtimestamp(1_700_000_000, UTC)


def summary(cid: str, status: str, creator: str = "444444444444") -> dict[str, object]:
    return {
        "id": cid,
        "name": f"n-{cid}",
        "creatorAccountId": creator,
        "memberStatus": status,
        "createTime": AT,
        "updateTime": AT,
    }


DATA = collaborations.build_poll_data(
    [
        summary("c1", "INVITED"),
        summary("c2", "INVITED", creator="555555555555"),
        summary("c3", "ACTIVE"),
        {**summary("bad", "ACTIVE"), "createTime": "yesterday"},
    ],
    1,
    None,
)


def by_name(settings: OutputSettings) -> dict[str, list[object]]:
    built = families(collaborations.SPEC, [TargetData(KEY, DATA)], settings)
    return {f.name: f.samples for f in built}


def test_counts_every_status_and_skips_a_malformed_summary() -> None:
    assert dict(DATA.counts) == {"ACTIVE": 1, "INVITED": 2, "LEFT": 0, "REMOVED": 0}
    assert DATA.invalid_items == 1
    assert DATA.oldest_invitation == AT.timestamp()
    only = collaborations.build_poll_data([summary("c1", "INVITED")], 1, "ACTIVE")
    assert dict(only.counts) == {"ACTIVE": 0}  # the filtered status alone, and none listed


def test_untrusted_invitations_only_with_an_allow_list() -> None:
    assert "cleanrooms_untrusted_pending_invitations" not in by_name(OutputSettings())
    trusted = by_name(OutputSettings(trusted_creator_accounts=("444444444444",)))
    (untrusted,) = trusted["cleanrooms_untrusted_pending_invitations"]
    assert untrusted.value == 1  # c2's creator is not trusted


def test_per_collaboration_series_can_be_switched_off() -> None:
    full = by_name(OutputSettings())
    assert len(full["cleanrooms_collaboration"]) == 3
    assert full["cleanrooms_collaboration"][0].labels["collaboration_name"] == "n-c1"
    lean = by_name(OutputSettings(per_collaboration_metrics=False))
    assert set(lean) == {
        "cleanrooms_collaborations",
        "cleanrooms_collaborations_by_analytics_engine",
    }


def test_collaborations_by_analytics_engine_per_member_status() -> None:
    data = collaborations.build_poll_data(
        [
            {**summary("c1", "ACTIVE"), "analyticsEngine": "SPARK"},
            {**summary("c2", "ACTIVE"), "analyticsEngine": "CLEAN_ROOMS_SQL"},
            {**summary("c3", "ACTIVE"), "analyticsEngine": "SPARK"},
            summary("c4", "INVITED"),  # names none
        ],
        1,
        None,
    )
    assert data.engines["ACTIVE"] == {"CLEAN_ROOMS_SQL": 1, "SPARK": 2}
    assert data.engines["INVITED"] == {"CLEAN_ROOMS_SQL": 0, "SPARK": 0, "unknown": 1}
    assert data.engines["LEFT"] == {"CLEAN_ROOMS_SQL": 0, "SPARK": 0}
    built = families(collaborations.SPEC, [TargetData(KEY, data)], OutputSettings())
    samples = {f.name: f.samples for f in built}
    engines = {
        (s.labels["member_status"], s.labels["analytics_engine"]): s.value
        for s in samples["cleanrooms_collaborations_by_analytics_engine"]
    }
    assert engines[("ACTIVE", "SPARK")] == 2
    assert engines[("REMOVED", "CLEAN_ROOMS_SQL")] == 0
    info = {s.labels["collaboration_id"]: s.labels for s in samples["cleanrooms_collaboration"]}
    assert info["c1"]["analytics_engine"] == "SPARK"
    assert info["c4"]["analytics_engine"] == "unknown"
    # The other labels are as they were.
    assert set(info["c1"]) == {
        "account_id",
        "region",
        "collaboration_id",
        "collaboration_name",
        "creator_account_id",
        "creator_display_name",
        "member_status",
        "membership_id",
        "analytics_engine",
    }
