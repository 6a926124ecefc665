"""A first day with real accounts: one bad account never stops the rest; a preflight."""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from exporter.app import App
from exporter.cli.main import main
from exporter.config import parse_config
from exporter.core.logs import LogfmtFormatter
from exporter.web.statuspage import PageContext, ReloadRecorder, ReloadState, render_status_page
from tests.faultproxy import FaultProxy, Reply, Seen, wait_for
from tests.helpers import Seeder, role, value

PROFILE_KEYS = "aws_access_key_id = AKIAPROFILEPROFILE01\naws_secret_access_key = profile-secret\n"


def config_text(endpoint: str, accounts: str, extra: str = "") -> str:
    return (
        f"aws: {{endpoint_url: '{endpoint}', max_attempts: 1, connect_timeout: 1s}}\n"
        f"poll_interval: 200ms\nstale_after: 1m\nrate_limit: {{requests_per_second: 0}}\n"
        f"accounts: {accounts}\n{extra}"
    )


def test_an_account_without_an_id_never_stops_the_others_and_joins_once_found(
    proxy: FaultProxy,
    seeder: Seeder,
    new_account: Callable[[], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = new_account()
    seeder.statuses(good, "us-east-1", INVITED=1)
    shared = tmp_path / "aws-config"
    shared.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(shared))
    accounts = (
        f"[{{role_arn: '{role(good)}', regions: [us-east-1]}}, "
        "{profile: analytics, name: analytics, regions: [us-east-1, eu-west-2]}]"
    )
    app = App(parse_config(config_text(proxy.url, accounts), {}))  # no AWS call, no raise
    app.start()
    try:
        assert app.wait_ready(30)  # the bad account's first look-up answered: ready
        assert value(app, "cleanrooms_target_up", account_id=good, region="us-east-1") == 1
        for region in ("us-east-1", "eu-west-2"):
            where = {"account_id": "accounts[1]", "region": region}
            assert value(app, "cleanrooms_target_up", **where) == 0
            error = {**where, "operation": "GetCallerIdentity", "error_code": "ProfileNotFound"}
            assert value(app, "cleanrooms_target_last_error_info", **error) == 1
            assert (
                value(
                    app,
                    "cleanrooms_account_info",
                    account_id="accounts[1]",
                    account_name="analytics",
                )
                == 1
            )
        # Retried with the usual back-off, the others polling meanwhile.
        where = {"account_id": "accounts[1]", "region": "us-east-1"}
        wait_for(lambda: (value(app, "cleanrooms_target_poll_failures_total", **where) or 0) >= 2)
        assert value(app, "cleanrooms_target_up", account_id=good, region="us-east-1") == 1
        # The profile appears: the account joins under its real id; its placeholders go.
        shared.write_text(f"[profile analytics]\n{PROFILE_KEYS}")
        found = ("123456789012", "us-east-1")  # moto's account of plain keys
        wait_for(lambda: found in app.snapshot().states)
        wait_for(lambda: not any(k[0] == "accounts[1]" for k in app.snapshot().states))
        wait_for(lambda: app.snapshot().states[found].up)
    finally:
        app.stop()


def test_start_up_does_not_wait_for_an_unreachable_sts(tmp_path: Path) -> None:
    accounts = "[{regions: [us-east-1]}]"  # the default chain: its id comes from STS
    app = App(parse_config(config_text("http://127.0.0.1:9", accounts), {}))
    app.start()
    try:
        assert app.wait_ready(30)
        error = {
            "account_id": "accounts[0]",
            "region": "us-east-1",
            "operation": "GetCallerIdentity",
            "error_code": "ConnectionError",
        }
        assert value(app, "cleanrooms_target_last_error_info", **error) == 1
        assert not app.snapshot().states[("accounts[0]", "us-east-1")].up
    finally:
        app.stop()


def test_a_failed_reload_gives_each_problem_a_line(caplog: pytest.LogCaptureFixture) -> None:
    texts = iter(["", "poll_interval: 1ms\nregions: [nowhere]\n"])
    app = App(parse_config(next(texts), {}), lambda: parse_config(next(texts), {}))
    with caplog.at_level(logging.ERROR):
        ok, message = app.reload()
    assert not ok
    problems = [
        "invalid configuration:",
        "  regions[0]: unknown Clean Rooms region 'nowhere'",
        "  poll_interval: must be at least 100ms: a poll interval that short is a typo",
    ]
    assert message.splitlines() == problems  # the answer of POST /-/reload, with a newline
    (record,) = [r for r in caplog.records if "reload failed" in r.getMessage()]
    assert record.getMessage().splitlines()[1:] == problems[1:]  # one field, one line each
    assert "\\n  regions[0]" in LogfmtFormatter().format(record)
    recorder = ReloadRecorder(lambda: (ok, message))
    recorder()
    last_time, last_message = recorder.last or (0.0, "")
    state = ReloadState("config.yaml", False, 0.0, last_time, last_message)
    page = render_status_page(app.snapshot(), PageContext(reload=state))
    assert "invalid configuration:<br>  regions[0]: unknown Clean Rooms region" in page


def preflight_world(
    proxy: FaultProxy, seeder: Seeder, new_account: Callable[[], str], tmp_path: Path
) -> tuple[Path, dict[str, str]]:
    good, denied, wrong = new_account(), new_account(), new_account()
    for account in (good, denied, wrong):
        seeder.statuses(account, "us-east-1", ACTIVE=1, INVITED=2)

    def deny(seen: Seen) -> Reply | None:
        if seen.operation == "ListMemberships" and seen.account_id == denied:
            return Reply.aws_error(403, "AccessDeniedException", "not allowed")
        if seen.operation == "AssumeRole" and "ExternalId=wrong" in seen.body:
            return Reply.sts_error(403, "AccessDenied", "not authorized to perform sts:AssumeRole")
        return None

    proxy.rules.append(deny)
    accounts = ", ".join(
        f"{{role_arn: '{role(a)}', external_id: {e}, regions: [us-east-1]}}"
        for a, e in ((good, "right"), (denied, "right"), (wrong, "wrong"))
    )
    path = tmp_path / "config.yaml"
    path.write_text(
        config_text(proxy.url, f"[{accounts}]", "collectors: {members: {enabled: true}}\n")
    )
    return path, {"good": good, "denied": denied, "wrong": wrong}


def test_the_preflight_names_what_to_fix_and_calls_each_operation_once(
    proxy: FaultProxy,
    seeder: Seeder,
    new_account: Callable[[], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, ids = preflight_world(proxy, seeder, new_account, tmp_path)
    code = main(["--config.file", str(path), "--config.check", "--check.aws"])
    out = capsys.readouterr().out
    assert code == 1, out
    lines = set(out.splitlines())
    good, denied, wrong = ids["good"], ids["denied"], ids["wrong"]
    for collector in ("collaborations", "memberships", "members"):
        assert f"{good} (role {role(good)}) us-east-1 {collector}: ok" in lines
    assert f"{denied} (role {role(denied)}) us-east-1 collaborations: ok" in lines
    assert (
        f"{denied} (role {role(denied)}) us-east-1 memberships: FAILED: ListMemberships: "
        f"AccessDeniedException: allow cleanrooms:ListMemberships in the permission policy of "
        f"role {role(denied)}"
    ) in lines
    assert (
        f"{wrong} (role {role(wrong)}) us-east-1 collaborations: FAILED: AssumeRole: "
        f"AccessDenied: {role(wrong)} cannot be assumed: its trust policy must name the "
        "exporter's identity, with sts:ExternalId equal to the configured external_id "
        "(check both)"
    ) in lines
    assert (
        f"{wrong} (role {role(wrong)}) us-east-1 members: FAILED: not tried, the credentials failed"
    ) in lines
    assert "preflight: 5 of 9 checks ok" in lines
    # At most one call per (account, operation): no retries, nothing polled twice.
    calls = collections.Counter((s.account_id, s.operation) for s in proxy.seen)
    assert calls
    assert max(calls.values()) == 1, calls
    assert calls[(good, "ListMembers")] == 1  # the fan-out probe found its collaboration


def test_the_preflight_passes_when_everything_can_poll(
    proxy: FaultProxy,
    seeder: Seeder,
    new_account: Callable[[], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    account = new_account()
    path = tmp_path / "config.yaml"
    accounts = f"[{{role_arn: '{role(account)}', regions: [us-east-1, eu-west-2]}}]"
    path.write_text(config_text(proxy.url, accounts, "collectors: {members: {enabled: true}}\n"))
    assert main(["--config.file", str(path), "--config.check", "--check.aws"]) == 0
    out = capsys.readouterr().out
    assert "preflight: 6 of 6 checks ok" in out
    # No ACTIVE collaboration yet: the fan-out collector can poll (nothing to list).
    assert "us-east-1 members: ok (no ACTIVE collaboration yet to call ListMembers on)" in out
    assert len(proxy.calls("AssumeRole", account)) == 1  # one role session for both regions


def test_a_missing_profile_stops_the_preflight_before_any_call(
    proxy: FaultProxy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config_text(proxy.url, "[{profile: analytics}]"))
    assert main(["--config.file", str(path), "--config.check", "--check.aws"]) == 2
    assert "accounts[0].profile: analytics is in neither" in capsys.readouterr().err
    assert proxy.seen == []


def test_a_reload_adding_an_unreachable_account_keeps_the_others_polling(
    proxy: FaultProxy, seeder: Seeder, new_account: Callable[[], str]
) -> None:
    good = new_account()
    seeder.statuses(good, "us-east-1", ACTIVE=1)
    first = f"[{{role_arn: '{role(good)}', regions: [us-east-1]}}]"
    second = f"[{{role_arn: '{role(good)}', regions: [us-east-1]}}, {{profile: missing}}]"
    texts = iter([config_text(proxy.url, first), config_text(proxy.url, second)])
    app = App(parse_config(next(texts), {}), lambda: parse_config(next(texts), {}))
    app.start()
    try:
        assert app.wait_ready(30)
        ok, message = app.reload()
        assert ok, message
        where = {"account_id": "accounts[1]", "region": "us-east-1"}
        wait_for(lambda: value(app, "cleanrooms_target_up", **where) == 0)
        polls = value(app, "cleanrooms_target_polls_total", account_id=good, region="us-east-1")
        wait_for(
            lambda: (
                (
                    value(app, "cleanrooms_target_polls_total", account_id=good, region="us-east-1")
                    or 0
                )
                > (polls or 0)
            )
        )
        assert value(app, "cleanrooms_target_up", account_id=good, region="us-east-1") == 1
    finally:
        app.stop()
