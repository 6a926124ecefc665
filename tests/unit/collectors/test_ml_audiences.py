"""The ml_audiences collector: per-target tallies of three listings, and stale audience models."""

from __future__ import annotations

from exporter.collectors import ml_audiences
from exporter.collectors.base import TargetData
from exporter.collectors.listings import Listed
from exporter.collectors.status_counts import Item, tally
from exporter.core.model import INFO, RUNNING_LOW
from exporter.core.series import OutputSettings
from exporter.metrics.declared import families

DAY = 86400.0
NOW = 1_800_000_000.0
KEY = ("111111111111", "us-east-1")


def listed(kind: ml_audiences.ListedKind, *items: Item) -> Listed:
    return Listed("", tally(kind.rules, items, None), items)


def data(*models: Item) -> ml_audiences.AudiencesData:
    return ml_audiences.AudiencesData(
        (
            listed(ml_audiences.MODELS, *models),
            listed(ml_audiences.CONFIGURED),
            listed(ml_audiences.JOBS, Item("j", "CREATE_FAILED", NOW)),
        )
    )


def test_an_audience_model_not_retrained_for_a_week_is_to_act_on() -> None:
    old = Item("arn:old", "ACTIVE", NOW - 8 * DAY, {"name": "old"})
    young = Item("arn:young", "ACTIVE", NOW - DAY, {"name": "young"})
    found = ml_audiences.findings(KEY, data(old, young), NOW)
    stale = [f for f in found if f.urgency == RUNNING_LOW]
    assert [f.what for f in stale] == ["audience model old: trained 8 days ago; retraining advised"]
    assert [(f.membership_id, f.severity) for f in stale] == [("", INFO)]  # the account's own
    assert any("audience generation jobs failed: 1" in f.what for f in found)


def test_counts_per_target_and_no_failed_counter_for_configured_models() -> None:
    built = families(ml_audiences.SPEC, [TargetData(KEY, data())], OutputSettings())
    names = [f.name for f in built]
    assert names == [
        "cleanrooms_ml_audience_models",
        "cleanrooms_ml_audience_models_failed",
        "cleanrooms_ml_configured_audience_models",
        "cleanrooms_ml_audience_generation_jobs",
        "cleanrooms_ml_audience_generation_jobs_failed",
    ]
    jobs = {s.labels["status"]: s.value for s in built[3].samples}
    assert jobs["CREATE_FAILED"] == 1
    assert built[4].samples[0].value == 0  # a baseline: nothing counted yet
    assert built[4].samples[0].labels == {"account_id": KEY[0], "region": KEY[1]}
