"""The service_quotas collector against the fake: applied values, config over them, a denial."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from exporter.app import App
from exporter.cli.main import main
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy
from tests.helpers import Seeder, config, poll_again, role, value

ON = "collectors: {service_quotas: {enabled: true}}\n"
SQL = "account_concurrent_sql_queries"


def limit(exporter: App, account: str, quota: str, source: str) -> float | None:
    labels = {"account_id": account, "region": "us-east-1", "quota": quota, "source": source}
    return value(exporter, "cleanrooms_quota_limit", **labels)


def test_an_applied_value_wins_over_the_default_and_vcpus_are_exported(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    seeder.add(a, "us-east-1", "ACTIVE")
    fake.service_quotas.apply((a, "us-east-1"), "Concurrent SQL queries per account", 10)
    fake.service_quotas.apply(
        (a, "us-east-1"), "Concurrent PySpark job vCPU usage per account", 4096
    )
    exporter = run_exporter(proxy.url, config(a, ON))
    assert limit(exporter, a, SQL, "applied") == 10
    assert limit(exporter, a, SQL, "default") is None  # one series per quota
    assert limit(exporter, a, "account_concurrent_pyspark_vcpus", "applied") == 4096
    assert limit(exporter, a, "account_concurrent_sql_vcpus", "applied") == 512
    where = {"account_id": a, "region": "us-east-1"}
    listed = {"quota_code": "L-CR000008", "quota_name": "Collaborations created per account"}
    assert value(exporter, "cleanrooms_service_quota", **where, **listed) == 10
    calls = proxy.calls("ListServiceQuotas", a)
    assert len(calls) == 1  # ⌈9 quotas / 100⌉
    assert '"ServiceCode": "cleanrooms"' in calls[0].body
    assert '"MaxResults": 100' in calls[0].body


def test_a_configured_value_wins_over_applied_and_default(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    seeder.add(a, "us-east-1", "ACTIVE")
    fake.service_quotas.apply((a, "us-east-1"), "Concurrent SQL queries per account", 10)
    exporter = run_exporter(proxy.url, config(a, f"quotas: {{{SQL}: 20}}\n{ON}"))
    assert limit(exporter, a, SQL, "config") == 20
    assert limit(exporter, a, SQL, "applied") is None
    assert limit(exporter, a, "account_memberships", "applied") == 100


def test_a_denial_falls_back_to_the_defaults_is_logged_once_and_nothing_else_suffers(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    a = new_account()
    seeder.add(a, "us-east-1", "ACTIVE")
    fake.service_quotas.deny(a)
    caplog.set_level(logging.DEBUG, logger="exporter.polling.poller")
    exporter = run_exporter(
        proxy.url,
        config(a, "collectors: {service_quotas: {enabled: true}, memberships: {enabled: true}}"),
    )
    for _ in range(2):
        poll_again(exporter, a, "service_quotas")
    assert limit(exporter, a, SQL, "default") == 5
    assert limit(exporter, a, "account_concurrent_pyspark_vcpus", "default") == 1024
    health = {"account_id": a, "region": "us-east-1"}
    up = "cleanrooms_collector_up"
    assert value(exporter, up, **health, collector="service_quotas") == 0
    assert value(exporter, up, **health, collector="memberships") == 1
    assert value(exporter, "cleanrooms_target_up", **health) == 1
    denied = [
        r
        for r in caplog.records
        if r.getMessage().startswith("poll failed")
        and getattr(r, "collector", "") == "service_quotas"
    ]
    assert len(denied) == 3
    assert [r.levelno for r in denied] == [logging.WARNING, logging.DEBUG, logging.DEBUG]


def test_the_preflight_probes_service_quotas_and_names_the_action_to_allow(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    seeder: Seeder,
    new_account: Callable[[], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good, denied = new_account(), new_account()
    for account in (good, denied):
        seeder.add(account, "us-east-1", "ACTIVE")
    fake.service_quotas.deny(denied)
    path = tmp_path / "config.yaml"
    accounts = ", ".join(f"{{role_arn: '{role(a)}', regions: [us-east-1]}}" for a in (good, denied))
    path.write_text(
        f"aws: {{endpoint_url: '{proxy.url}', max_attempts: 1}}\naccounts: [{accounts}]\n{ON}"
    )
    assert main(["--config.file", str(path), "--config.check", "--check.aws"]) == 1
    lines = set(capsys.readouterr().out.splitlines())
    assert f"{good} (role {role(good)}) us-east-1 service_quotas: ok" in lines
    assert (
        f"{denied} (role {role(denied)}) us-east-1 service_quotas: FAILED: ListServiceQuotas: "
        f"AccessDeniedException: allow servicequotas:ListServiceQuotas in the permission "
        f"policy of role {role(denied)}"
    ) in lines
    (probe,) = proxy.calls("ListServiceQuotas", good)
    assert '"MaxResults": 1' in probe.body
