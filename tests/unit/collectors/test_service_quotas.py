"""The service_quotas collector: its parse, and cleanrooms_quota_limit's sources."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from exporter.collectors import service_quotas
from exporter.collectors.service_quotas import QUOTA_NAMES, build
from exporter.config.collectors import CollectorSchedule
from exporter.config.quotas import QUOTAS, sourced
from exporter.core.model import CollectorState, Snapshot
from exporter.metrics.exposition import ExpositionRenderer
from exporter.metrics.scrape import ScrapeSettings, SnapshotMetrics
from tests.unit.metrics.test_collector import NOW, snapshot, stats

KEY = ("111111111111", "us-east-1")


def quota(code: str, name: str, value: Any) -> dict[str, Any]:
    return {"QuotaCode": code, "QuotaName": name, "Value": value}


def test_known_quotas_are_matched_by_name_and_malformed_ones_counted() -> None:
    data = build(
        [
            quota("L-1", "Concurrent SQL queries per account", 10.0),
            quota("L-2", "CONCURRENT SQL QUERY VCPU USAGE PER ACCOUNT", 2048),  # case aside
            quota("L-3", "Collaborations created per account", 10.0),  # listed, not ours
            quota("L-4", "Memberships per account", -1),  # a negative value is malformed
            quota("L-5", "Memberships per account", True),
            {"QuotaCode": "L-6", "Value": 1.0},
            "not a quota",
        ]
    )
    assert data.invalid_items == 4
    assert [q.code for q in data.quotas] == ["L-1", "L-2", "L-3"]
    assert dict(data.applied) == {
        "account_concurrent_sql_queries": 10.0,
        "account_concurrent_sql_vcpus": 2048.0,
    }


def test_every_quota_the_names_map_to_is_one_the_exporter_knows() -> None:
    assert set(QUOTA_NAMES.values()) == set(QUOTAS)


def test_config_wins_over_applied_which_wins_over_the_default() -> None:
    applied = {"account_concurrent_sql_queries": 10.0, "account_memberships": 150.0, "x": 1.0}
    found = sourced("eu-west-2", (("account_memberships", 200),), applied)
    assert found["account_concurrent_sql_queries"] == (10.0, "applied")
    assert found["account_memberships"] == (200, "config")
    assert found["account_concurrent_pyspark_jobs"] == (2, "default")
    assert found["account_concurrent_pyspark_vcpus"] == (512, "default")
    assert "x" not in found  # a quota the exporter does not know is not a limit
    assert sourced("us-east-1")["account_concurrent_pyspark_vcpus"] == (1024, "default")


def scrape(data: service_quotas.QuotasData, fresh: bool, accept: str) -> CollectorRegistry:
    base = snapshot()
    target = base.states[KEY].target
    polled = NOW - (60 if fresh else 99_999)
    state = CollectorState(target, data, up=True, polled=True, last_success_monotonic=polled)
    view = Snapshot(base.states, MappingProxyType({"service_quotas": {KEY: state}}))
    settings = ScrapeSettings(900.0, True, (), (CollectorSchedule("service_quotas", 3600, 10_800),))
    collector = SnapshotMetrics(lambda: view, stats(), lambda: settings, lambda: NOW, lambda: NOW)
    registry = CollectorRegistry()
    registry.register(collector)
    body, _ = ExpositionRenderer(collector).render(accept)
    assert body == bytes(choose_encoder(accept)[0](registry))  # the cached renderer agrees
    return registry


@pytest.mark.parametrize("accept", ["text/plain", "application/openmetrics-text; version=1.0.0"])
def test_quota_limit_takes_fresh_applied_values_with_their_source(accept: str) -> None:
    data = build([quota("L-1", "Concurrent SQL queries per account", 10.0)])
    registry = scrape(data, fresh=True, accept=accept)

    def limit(quota: str, source: str) -> float | None:
        labels = {"account_id": KEY[0], "region": KEY[1], "quota": quota, "source": source}
        return registry.get_sample_value("cleanrooms_quota_limit", labels)

    assert limit("account_concurrent_sql_queries", "applied") == 10
    assert limit("account_concurrent_sql_queries", "default") is None
    assert limit("account_concurrent_sql_vcpus", "default") == 512
    where = {"account_id": KEY[0], "region": KEY[1], "quota_code": "L-1"}
    name = "Concurrent SQL queries per account"
    assert (
        registry.get_sample_value("cleanrooms_service_quota", {**where, "quota_name": name}) == 10
    )
    # Stale data (Service Quotas unreachable for longer than stale_after): the defaults stand.
    stale = scrape(data, fresh=False, accept=accept)
    labels = {"account_id": KEY[0], "region": KEY[1], "quota": "account_concurrent_sql_queries"}
    assert stale.get_sample_value("cleanrooms_quota_limit", {**labels, "source": "default"}) == 5
