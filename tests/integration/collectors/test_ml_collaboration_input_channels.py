"""ml_collaboration_input_channels against the fake: every member's channels, paged, who pays."""

from __future__ import annotations

import time
from collections.abc import Callable

from exporter.app import App
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy
from tests.helpers import Seeder, config, value, where_of

OPERATION = "ListCollaborationMLInputChannels"
COUNTS = "cleanrooms_ml_collaboration_input_channels"
PARTNER = ("444444444444", "us-east-1", "22222222-2222-4222-8222-222222222222")


def test_every_page_with_the_compute_payer_and_nothing_guessed(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    now = time.time()
    for number in range(120):
        fake.ml.add_input_channel(PARTNER, collaboration.id, f"c{number}", "ACTIVE", now - number)
    fake.ml.add_input_channel(PARTNER, collaboration.id, "paid", "CREATE_FAILED", now, payer=a)
    collectors = "collectors: {ml_collaboration_input_channels: {enabled: true}}"
    exporter = run_exporter(proxy.url, config(a, collectors))
    where = {**where_of(a, collaboration), "creator_account_id": PARTNER[0]}
    unsaid = {**where, "payer_account_id": "", "account_role": "neither"}
    assert value(exporter, COUNTS, **unsaid, status="ACTIVE") == 120
    paid = {**where, "payer_account_id": a, "account_role": "payer"}
    assert value(exporter, COUNTS, **paid, status="CREATE_FAILED") == 1
    assert len(proxy.calls(OPERATION, a)) == 2  # ⌈121 / 100⌉
    # Failed before the exporter started watching: a baseline, not counted.
    failed = "cleanrooms_ml_collaboration_input_channels_failed_total"
    assert value(exporter, failed, **where_of(a, collaboration), account_role="payer") == 0
