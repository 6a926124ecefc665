"""The ml_input_channels collector against the fake: counts by status, one call a membership."""

from __future__ import annotations

import time
from collections.abc import Callable

from exporter.app import App
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy
from tests.helpers import Seeder, config, value, where_of


def test_input_channels_by_status_one_call_per_active_membership(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    other = seeder.add(a, "us-east-1", "ACTIVE")
    seeder.add(a, "us-east-1", "INVITED")  # no membership yet: nothing to list
    key = (a, "us-east-1", collaboration.membership_id)
    fake.ml.add_input_channel(key, collaboration.id, "c1", "CREATE_FAILED", time.time() - 60)
    collectors = "collectors: {ml_input_channels: {enabled: true}}"
    exporter = run_exporter(proxy.url, config(a, collectors))
    where = where_of(a, collaboration)
    assert value(exporter, "cleanrooms_ml_input_channels", **where, status="CREATE_FAILED") == 1
    assert value(exporter, "cleanrooms_ml_input_channels", **where, status="ACTIVE") == 0
    empty = where_of(a, other)
    assert value(exporter, "cleanrooms_ml_input_channels", **empty, status="ACTIVE") == 0
    assert value(exporter, "cleanrooms_ml_input_channels_failed_total", **where) == 0  # baseline
    assert len(proxy.calls("ListMLInputChannels", a)) == 2
