"""The whole exporter against moto on loopback: role accounts, regions, pagination, API counts."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.app import App
from exporter.config import parse_config
from tests.conftest import require_tool
from tests.faultproxy import FaultProxy, Reply, always, first_n, wait_for
from tests.helpers import Seeder, role, value


def test_invitation_age_and_untrusted_creators(
    moto_server: str,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    account = new_account()
    seeder.add(account, "us-east-1", "INVITED", creator="444444444444", age=3 * 86400)
    seeder.add(account, "us-east-1", "INVITED", creator="999999999999", age=600)
    seeder.add(account, "us-east-1", "ACTIVE", creator="999999999999", age=90 * 86400)
    exporter = run_exporter(
        moto_server,
        f"trusted_creator_accounts: ['444444444444']\naccounts: [{{role_arn: '{role(account)}'}}]",
    )
    labels = {"account_id": account, "region": "us-east-1"}
    age = value(exporter, "cleanrooms_pending_invitations_oldest_age_seconds", **labels)
    assert age == pytest.approx(3 * 86400, abs=60)
    time.sleep(1.1)  # computed at scrape time: it keeps growing between polls
    later = value(exporter, "cleanrooms_pending_invitations_oldest_age_seconds", **labels)
    assert later is not None
    assert age is not None
    assert later >= age + 1
    assert value(exporter, "cleanrooms_untrusted_pending_invitations", **labels) == 1


def test_retried_attempts_are_each_counted(
    proxy: FaultProxy,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    account = new_account()
    seeder.statuses(account, "us-east-1", ACTIVE=1)
    proxy.rules.append(
        first_n(2, Reply.aws_error(429, "ThrottlingException"), "ListCollaborations")
    )
    exporter = run_exporter(proxy.url, f"accounts: [{{role_arn: '{role(account)}'}}]")
    labels = {"account_id": account, "region": "us-east-1", "operation": "ListCollaborations"}
    assert value(exporter, "cleanrooms_api_requests_total", **labels) == 3
    assert value(exporter, "cleanrooms_api_throttles_total", **labels) == 2
    errors = value(
        exporter, "cleanrooms_api_errors_total", **labels, error_code="ThrottlingException"
    )
    assert errors == 2
    assert value(exporter, "cleanrooms_target_up", account_id=account, region="us-east-1") == 1
    count = value(
        exporter, "cleanrooms_api_request_duration_seconds_count", operation="ListCollaborations"
    )
    assert count is not None
    assert count >= 3


def test_assume_role_failure_counted_and_isolated(
    proxy: FaultProxy,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    good, bad = new_account(), new_account()
    seeder.statuses(good, "us-east-1", ACTIVE=2)
    proxy.rules.append(always(Reply.sts_error(403, "AccessDenied"), "AssumeRole", bad))
    exporter = run_exporter(
        proxy.url,
        f"accounts: [{{role_arn: '{role(good)}'}}, {{role_arn: '{role(bad)}'}}]\n"
        # One collector, so the one failed AssumeRole per poll is counted exactly.
        "collectors: {memberships: {enabled: false}}",
    )
    bad_target = {"account_id": bad, "region": "us-east-1"}
    assert value(exporter, "cleanrooms_target_up", **bad_target) == 0
    assert value(exporter, "cleanrooms_target_poll_failures_total", **bad_target) == 1
    assert (
        value(
            exporter,
            "cleanrooms_api_errors_total",
            **bad_target,
            operation="AssumeRole",
            error_code="AccessDenied",
        )
        == 1
    )
    assert (
        value(exporter, "cleanrooms_collaborations", **bad_target, member_status="ACTIVE") is None
    )
    error = exporter.poller.snapshot.states[(bad, "us-east-1")].last_error
    assert error is not None
    assert (error.operation, error.code) == ("AssumeRole", "AccessDenied")
    good_target = {"account_id": good, "region": "us-east-1"}
    assert value(exporter, "cleanrooms_target_up", **good_target) == 1
    assert value(exporter, "cleanrooms_collaborations", **good_target, member_status="ACTIVE") == 2


def test_member_status_filter_is_sent_and_applied(
    proxy: FaultProxy,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    account = new_account()
    seeder.statuses(account, "us-east-1", INVITED=2, ACTIVE=5)
    exporter = run_exporter(
        proxy.url, f"member_status: INVITED\naccounts: [{{role_arn: '{role(account)}'}}]"
    )
    assert proxy.calls("ListCollaborations", account)[0].query["memberStatus"] == ["INVITED"]
    labels = {"account_id": account, "region": "us-east-1"}
    assert value(exporter, "cleanrooms_collaborations", **labels, member_status="INVITED") == 2
    # moto ignores the filter; the exporter applies it too, so counts match real AWS.
    assert value(exporter, "cleanrooms_collaborations", **labels, member_status="ACTIVE") is None


def test_hostile_names_make_valid_exposition(
    moto_server: str,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    account = new_account()
    names = ['quote " back \\ slash', "new\nline", "ünïcødé 名前 🚀", "x" * 1000, "lone \udcff"]
    for name in names:
        seeder.add(account, "us-east-1", "INVITED", name=name, display_name=name)
    exporter = run_exporter(moto_server, f"accounts: [{{role_arn: '{role(account)}'}}]")
    text = generate_latest(exporter.registry).decode()
    exported = {
        s.labels["collaboration_name"]
        for f in text_string_to_metric_families(text)
        if f.name == "cleanrooms_collaboration_info"
        for s in f.samples
        if s.labels["account_id"] == account
    }
    assert exported == {*names[:3], "x" * 255 + "\u2026", "lone ?"}
    promtool = require_tool("promtool")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_per_collaboration_metrics_off(
    moto_server: str,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    account = new_account()
    seeder.statuses(account, "us-east-1", ACTIVE=2)
    exporter = run_exporter(
        moto_server,
        f"per_collaboration_metrics: false\naccounts: [{{role_arn: '{role(account)}'}}]",
    )
    text = generate_latest(exporter.registry).decode()
    assert "cleanrooms_collaboration_info{" not in text
    assert "cleanrooms_collaboration_created_timestamp_seconds{" not in text
    labels = {"account_id": account, "region": "us-east-1", "member_status": "ACTIVE"}
    assert value(exporter, "cleanrooms_collaborations", **labels) == 2


def test_default_chain_and_profile_resolve_ids_through_standard_endpoint_env(
    moto_server: str,
    seeder: Seeder,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # moto gives plain (non-role) keys its default account.
    seeder.statuses("123456789012", "eu-west-1", INVITED=1)
    shared = tmp_path / "aws-config"
    shared.write_text(
        "[profile analytics]\naws_access_key_id = AKIAPROFILEPROFILE01\n"
        "aws_secret_access_key = profile-secret\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(shared))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)  # no endpoint_url in the config
    config = parse_config("accounts: [{profile: analytics, regions: [eu-west-1]}]", {})
    exporter = App(config)  # makes no AWS call: the id is asked for in the background
    exporter.start()
    try:
        assert exporter.wait_ready(30)
        labels = {"account_id": "123456789012", "region": "eu-west-1", "member_status": "INVITED"}
        assert value(exporter, "cleanrooms_collaborations", **labels) >= 1
    finally:
        exporter.stop()
    # The default chain resolves to the same account: the first listed wins, once.
    both = App(parse_config("accounts: [{profile: analytics}, {}]\nregions: [eu-west-1]", {}))
    both.start()
    try:
        assert both.wait_ready(30)
        wait_for(lambda: set(both.snapshot().states) == {("123456789012", "eu-west-1")})
    finally:
        both.stop()


def test_assume_role_counts_follow_a_reload_that_drops_the_first_region(
    proxy: FaultProxy, seeder: Seeder, new_account: Callable[[], str]
) -> None:
    account = new_account()
    seeder.statuses(account, "eu-west-2", ACTIVE=1)
    texts = iter(
        [
            f"aws: {{endpoint_url: '{proxy.url}'}}\npoll_interval: 200ms\n"
            f"accounts: [{{role_arn: '{role(account)}', regions: [{region}]}}]\n"
            for region in ("us-east-1, eu-west-2", "eu-west-2")
        ]
    )
    app = App(parse_config(next(texts), {}), lambda: parse_config(next(texts), {}))
    app.start()
    try:
        assert app.wait_ready(30)
        assert app.reload()[0]
        key = (account, "eu-west-2")
        polls = app.poller.snapshot.states[key].polls
        wait_for(lambda: app.poller.snapshot.states[key].polls > polls + 1)
        labels = {"account_id": account, "region": "eu-west-2", "operation": "AssumeRole"}
        assert value(app, "cleanrooms_api_requests_total", **labels) == 1
        assert len(proxy.calls("AssumeRole", account)) == 2  # new credentials for the new region
    finally:
        app.stop()
