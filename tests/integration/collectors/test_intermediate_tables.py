"""The intermediate_tables collector against the fake: counts, failures, retention expiry."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from exporter.app import App
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy
from tests.helpers import Seeder, config, value, where_of

DAY = 86400.0


def test_tables_by_status_and_each_expiry_from_its_last_population(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    key = (a, "us-east-1", collaboration.membership_id)
    now = time.time()
    populated = now - 2 * DAY
    fake.tables.add_table(
        key, collaboration.id, "daily", "POPULATE_SUCCESS", now - 9 * DAY, populated, 7
    )
    fake.tables.add_table(key, collaboration.id, "broken", "POPULATE_FAILED", now - DAY)
    exporter = run_exporter(
        proxy.url, config(a, "collectors: {intermediate_tables: {enabled: true}}")
    )
    where = where_of(a, collaboration)
    tables = "cleanrooms_intermediate_tables"
    assert value(exporter, tables, **where, status="POPULATE_FAILED") == 1
    assert value(exporter, tables, **where, status="RETENTION_PERIOD_EXPIRED") == 0
    (daily,) = [t for t in fake.tables.tables(key) if t["name"] == "daily"]
    expiry = "cleanrooms_intermediate_table_retention_expiry_timestamp_seconds"
    labels = {**where, "intermediate_table_id": daily["id"], "name": "daily"}
    found = exporter.registry.get_sample_value(expiry, labels)
    # The last population plus seven days (to the microsecond a timestamp keeps).
    assert found == pytest.approx(populated + 7 * DAY, abs=1e-3)
    assert len(proxy.calls("ListIntermediateTables", a)) == 1
