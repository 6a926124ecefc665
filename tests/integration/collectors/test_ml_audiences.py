"""The ml_audiences collector against the fake: per target, and the age of each ACTIVE model."""

from __future__ import annotations

import time
from collections.abc import Callable

from exporter.app import App
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy
from tests.helpers import config, value

DAY = 86400.0


def test_audiences_per_target_and_the_age_of_each_active_model(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    target = (a, "us-east-1")
    now = time.time()
    model = fake.ml.add_audience_model(target, "shoppers", "ACTIVE", now - 9 * DAY)
    fake.ml.add_audience_model(target, "broken", "CREATE_FAILED", now - DAY)
    configured = fake.ml.add_configured_audience_model(target, "shoppers-lookalike", model, now)
    fake.ml.add_audience_generation_job(target, "g1", configured, "ACTIVE", now - 60)
    exporter = run_exporter(proxy.url, config(a, "collectors: {ml_audiences: {enabled: true}}"))
    here = {"account_id": a, "region": "us-east-1"}
    assert value(exporter, "cleanrooms_ml_audience_models", **here, status="ACTIVE") == 1
    assert value(exporter, "cleanrooms_ml_audience_models", **here, status="CREATE_FAILED") == 1
    assert value(exporter, "cleanrooms_ml_configured_audience_models", **here, status="ACTIVE") == 1
    assert value(exporter, "cleanrooms_ml_audience_generation_jobs", **here, status="ACTIVE") == 1
    age = value(
        exporter, "cleanrooms_ml_audience_model_age_seconds", **here, audience_model="shoppers"
    )
    assert age is not None
    assert 9 * DAY <= age < 9 * DAY + 100
    assert (
        value(exporter, "cleanrooms_ml_audience_model_age_seconds", **here, audience_model="broken")
        is None
    )
    for operation in (
        "ListAudienceModels",
        "ListConfiguredAudienceModels",
        "ListAudienceGenerationJobs",
    ):
        assert len(proxy.calls(operation, a)) == 1
