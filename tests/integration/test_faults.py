"""Faults injected at the HTTP level in front of moto: the exporter stays up and stays honest."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from prometheus_client.exposition import generate_latest

from exporter.app import App
from exporter.config import parse_config
from exporter.core.logs import quiet_libraries
from tests.faultproxy import FaultProxy, Reply, Seen, always, wait_for
from tests.helpers import Seeder

REGION = "us-east-1"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def start_app() -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def start(
        endpoint: str, accounts: list[str], extra: str = "", aws: str = "", interval: str = "1h"
    ) -> App:
        # A long interval by default: one poll per target, so counts can be compared exactly.
        roles = ", ".join(f"{{role_arn: 'arn:aws:iam::{a}:role/R'}}" for a in accounts)
        # A test's own aws settings replace these defaults (a key may appear only once).
        settings = {"max_attempts": "1", "read_timeout": "1s"}
        settings |= dict(s.strip().split(": ", 1) for s in aws.split(",") if s.strip())
        given = "".join(f", {key}: {value}" for key, value in settings.items())
        text = (
            f"aws: {{endpoint_url: '{endpoint}'{given}}}\n"
            f"poll_interval: {interval}\nstale_after: 2h\naccounts: [{roles}]\n"
            # The client-side rate limit would cap the healthy target's polls in these tests.
            f"rate_limit: {{requests_per_second: 0}}\n"
            # The matrix is about the collaborations path: one collector, so exact counts.
            f"collectors: {{memberships: {{enabled: false}}}}\n{extra}"
        )
        app = App(parse_config(text, {}))
        apps.append(app)
        app.poller.start()
        assert app.poller.wait_ready(30)
        return app

    yield start
    for app in apps:
        app.poller.stop(timeout=1)


@pytest.fixture(autouse=True)
def _quiet_werkzeug() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def sample(app: App, name: str, account: str, **labels: str) -> float | None:
    return app.registry.get_sample_value(name, {"account_id": account, "region": REGION, **labels})


def listing(app: App, account: str) -> dict[str, float | None]:
    return {
        name: sample(app, f"cleanrooms_api_{name}_total", account, operation="ListCollaborations")
        for name in ("requests", "throttles")
    }


def healthy_pair(seeder: Seeder, new_account: Callable[[], str]) -> tuple[str, str]:
    good, bad = new_account(), new_account()
    seeder.statuses(good, REGION, ACTIVE=2, INVITED=1)
    seeder.statuses(bad, REGION, ACTIVE=1)
    return good, bad


def assert_good_target_fresh(app: App, good: str) -> None:
    assert sample(app, "cleanrooms_target_up", good) == 1
    assert sample(app, "cleanrooms_collaborations", good, member_status="ACTIVE") == 2
    assert sample(app, "cleanrooms_collaborations", good, member_status="INVITED") == 1
    generate_latest(app.registry)  # the whole exposition still renders


def assert_one_log_line(caplog: pytest.LogCaptureFixture, account: str, operation: str, code: str):
    wanted = {"account": account, "region": REGION, "operation": operation, "error_code": code}
    fields = [{k: getattr(r, k, None) for k in wanted} for r in caplog.records]
    assert wanted in fields, wanted


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (Reply.aws_error(429, "ThrottlingException", "Rate exceeded"), "ThrottlingException"),
        (Reply(429, b""), "HTTP429"),
    ],
    ids=["429-throttling-exception", "429-empty-body"],
)
def test_throttling_storm_backs_off_counts_and_recovers(
    proxy: FaultProxy,
    start_app: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
    reply: Reply,
    code: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    good, bad = healthy_pair(seeder, new_account)
    proxy.rules.append(always(reply, "ListCollaborations", bad))
    app = start_app(
        proxy.url, [good, bad], aws=", max_attempts: 2, retry_mode: standard", interval="200ms"
    )
    time.sleep(4)
    key = (bad, REGION)
    state = app.poller.snapshot.states[key]
    seen = len(proxy.calls("ListCollaborations", bad))
    counts = listing(app, bad)
    # Every attempt the proxy throttled is counted once; retries stay within max_attempts.
    assert counts["requests"] == seen
    assert counts["throttles"] == seen
    errors = sample(
        app, "cleanrooms_api_errors_total", bad, operation="ListCollaborations", error_code=code
    )
    assert errors == seen
    assert seen <= 2 * state.polls + 2  # at most one poll in flight beyond those finished
    # Backed off: the healthy target was polled far more often in the same time.
    assert state.consecutive_failures >= 3
    assert app.poller.snapshot.states[(good, REGION)].polls >= 2 * state.polls
    assert_good_target_fresh(app, good)
    assert_one_log_line(caplog, bad, "ListCollaborations", code)
    proxy.rules.clear()
    wait_for(lambda: app.poller.snapshot.states[key].up, timeout=15)
    assert sample(app, "cleanrooms_target_consecutive_failures", bad) == 0
    assert sample(app, "cleanrooms_collaborations", bad, member_status="ACTIVE") == 1


def truncated_body() -> Reply:
    items = [{"id": f"id-{i}", "name": "n" * 50} for i in range(40)]
    return Reply(200, json.dumps({"collaborationList": items}).encode(), JSON, action="truncate")


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (Reply.aws_error(500, "InternalServerException"), "InternalServerException"),
        (Reply(503, b"", {}), "HTTP503"),
        (Reply(502, b"<html>bad gateway</html>", {"Content-Type": "text/html"}), "HTTP502"),
        (Reply(action="drop"), "ConnectionError"),
        # botocore reads what arrived; the half body is not JSON, so the poll says so.
        (truncated_body(), "InvalidResponse"),
        (Reply(action="hang"), "ReadTimeout"),
        (Reply.aws_error(403, "AccessDeniedException", "not authorized"), "AccessDeniedException"),
    ],
    ids=[
        "500",
        "503-empty",
        "502-html",
        "connection-dropped",
        "cut-mid-body",
        "read-timeout",
        "access-denied",
    ],
)
def test_one_failing_account_does_not_touch_another(
    proxy: FaultProxy,
    start_app: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
    reply: Reply,
    code: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    good, bad = healthy_pair(seeder, new_account)
    proxy.rules.append(always(reply, "ListCollaborations", bad))
    app = start_app(proxy.url, [good, bad])
    assert sample(app, "cleanrooms_target_up", bad) == 0
    assert (
        sample(
            app,
            "cleanrooms_target_last_error_info",
            bad,
            operation="ListCollaborations",
            error_code=code,
        )
        == 1
    )
    errors = sample(
        app, "cleanrooms_api_errors_total", bad, operation="ListCollaborations", error_code=code
    )
    assert errors is not None
    assert errors >= 1
    assert errors == listing(app, bad)["requests"]  # each failed attempt counted exactly once
    assert sample(app, "cleanrooms_collaborations", bad, member_status="ACTIVE") is None
    assert_good_target_fresh(app, good)
    assert_one_log_line(caplog, bad, "ListCollaborations", code)


def test_connection_refused(start_app: Callable[..., App], new_account: Callable[[], str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the exporter connects
    account = new_account()
    app = start_app(f"http://127.0.0.1:{port}", [account])
    assert sample(app, "cleanrooms_target_up", account) == 0
    # Role credentials come first: the refused connection is AssumeRole's.
    assert (
        sample(
            app,
            "cleanrooms_api_errors_total",
            account,
            operation="AssumeRole",
            error_code="ConnectionError",
        )
        == 1
    )
    error = app.poller.snapshot.states[(account, REGION)].last_error
    assert error is not None
    assert (error.operation, error.code) == ("AssumeRole", "ConnectionError")


def test_wrong_external_id_fails_only_that_account(
    proxy: FaultProxy,
    start_app: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    good, bad = healthy_pair(seeder, new_account)

    def trust_policy(seen: Seen) -> Reply | None:
        if seen.operation == "AssumeRole" and "ExternalId=right" not in seen.body:
            return Reply.sts_error(403, "AccessDenied", "not authorized to perform sts:AssumeRole")
        return None

    proxy.rules.append(trust_policy)
    text = (
        f"aws: {{endpoint_url: '{proxy.url}', max_attempts: 1}}\n"
        "poll_interval: 1h\nstale_after: 2h\n"
        f"accounts:\n  - {{role_arn: 'arn:aws:iam::{good}:role/R', external_id: right}}\n"
        f"  - {{role_arn: 'arn:aws:iam::{bad}:role/R', external_id: wrong}}\n"
        "collectors: {memberships: {enabled: false}}\n"  # one poll, so one AssumeRole
    )
    app = App(parse_config(text, {}))
    app.poller.start()
    try:
        assert app.poller.wait_ready(30)
        assert (
            sample(
                app,
                "cleanrooms_api_errors_total",
                bad,
                operation="AssumeRole",
                error_code="AccessDenied",
            )
            == 1
        )
        assert sample(app, "cleanrooms_target_up", bad) == 0
        assert_good_target_fresh(app, good)
        assert_one_log_line(caplog, bad, "AssumeRole", "AccessDenied")
    finally:
        app.poller.stop(timeout=1)


def collab(cid: str, **overrides: object) -> dict[str, object]:
    item: dict[str, object] = {
        "id": cid,
        "arn": f"arn:aws:cleanrooms:us-east-1:1:collaboration/{cid}",
        "name": cid,
        "creatorAccountId": "444444444444",
        "creatorDisplayName": "P",
        "createTime": 1.7e9,
        "updateTime": 1.7e9,
        "memberStatus": "ACTIVE",
    }
    item.update(overrides)
    return {k: v for k, v in item.items() if v is not None}


def page(items: list[dict[str, object]], token: str | None = None) -> Reply:
    body: dict[str, object] = {"collaborationList": items}
    if token:
        body["nextToken"] = token
    return Reply(200, json.dumps(body).encode(), JSON)


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (Reply(200, b"{not json", JSON), "InvalidResponse"),
        (Reply(200, b'{"collaborationList": "oops"}', JSON), "InvalidResponse"),
        (Reply(200, b"[1, 2]", JSON), "InvalidResponse"),
        (page([collab("a")], token="same-token"), "RepeatedNextToken"),
    ],
    ids=["invalid-json", "list-is-a-string", "top-level-array", "repeating-next-token"],
)
def test_malformed_responses_fail_the_poll_with_a_clear_code(
    proxy: FaultProxy,
    start_app: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
    reply: Reply,
    code: str,
) -> None:
    good, bad = healthy_pair(seeder, new_account)
    proxy.rules.append(always(reply, "ListCollaborations", bad))
    app = start_app(proxy.url, [good, bad])
    error = app.poller.snapshot.states[(bad, REGION)].last_error
    assert error is not None
    assert (error.operation, error.code) == ("ListCollaborations", code)
    assert (
        sample(
            app, "cleanrooms_api_errors_total", bad, operation="ListCollaborations", error_code=code
        )
        == 1
    )
    assert_good_target_fresh(app, good)


def test_endless_pages_stop_at_the_limit(
    proxy: FaultProxy,
    start_app: Callable[..., App],
    new_account: Callable[[], str],
) -> None:
    account = new_account()
    counter = iter(range(10**6))
    proxy.rules.append(
        lambda seen: (
            page([collab(f"c{next(counter)}")], token=f"t{next(counter)}")
            if seen.operation == "ListCollaborations"
            else None
        )
    )
    app = start_app(proxy.url, [account], extra="max_pages_per_poll: 5\n")
    error = app.poller.snapshot.states[(account, REGION)].last_error
    assert error is not None
    assert error.code == "TooManyPages"
    assert len(proxy.calls("ListCollaborations", account)) == 5


def test_bad_items_are_skipped_and_counted_the_rest_kept(
    proxy: FaultProxy,
    start_app: Callable[..., App],
    new_account: Callable[[], str],
) -> None:
    account = new_account()
    items = [
        collab("good-1"),
        collab("good-2", memberStatus="INVITED", createTime=1.7e9),
        collab("future-status", memberStatus="PAUSED"),
        collab("no-status", memberStatus=None),
        collab("no-id", id=None),
        collab("bad-time", createTime="yesterday"),
        collab("wrong-type-name", name=42),
        collab("time-is-object", updateTime={"at": 1}),
        # Out of every time zone's range: botocore's parser raises RuntimeError for it.
        collab("time-overflows", createTime="1e20"),
    ]
    proxy.rules.append(always(page(items), "ListCollaborations", account))
    app = start_app(proxy.url, [account])
    assert sample(app, "cleanrooms_target_up", account) == 1
    assert sample(app, "cleanrooms_target_invalid_collaborations", account) == 6
    counts = {
        status: sample(app, "cleanrooms_collaborations", account, member_status=status)
        for status in ("ACTIVE", "INVITED", "LEFT", "REMOVED", "PAUSED")
    }
    assert counts == {"ACTIVE": 1, "INVITED": 1, "LEFT": 0, "REMOVED": 0, "PAUSED": 1}


def test_slow_polls_never_overlap_or_pile_up(
    proxy: FaultProxy,
    start_app: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    account = new_account()
    seeder.statuses(account, REGION, ACTIVE=1)
    in_flight, peak, lock = [0], [0], threading.Lock()

    def slow(seen: Seen) -> Reply | None:
        if seen.operation != "ListCollaborations":
            return None
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.5)  # each poll takes 2.5 poll intervals
        with lock:
            in_flight[0] -= 1
        return page([collab("slow")])

    proxy.rules.append(slow)
    app = start_app(proxy.url, [account], aws=", read_timeout: 5s", interval="200ms")
    began = time.monotonic()
    time.sleep(2.2)
    polls = len(proxy.calls("ListCollaborations", account))
    elapsed = time.monotonic() - began + 0.5
    assert peak[0] == 1
    assert polls <= elapsed / 0.5 + 1  # back to back at best, never queued up
    assert sample(app, "cleanrooms_target_up", account) == 1


def test_stale_data_disappears_health_stays_and_says_why(
    proxy: FaultProxy,
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    account = new_account()
    seeder.statuses(account, REGION, ACTIVE=3)
    text = (
        f"aws: {{endpoint_url: '{proxy.url}', max_attempts: 1}}\npoll_interval: 200ms\n"
        # Long enough that a busy machine still reads the fresh data after the first poll.
        f"stale_after: 3s\naccounts: [{{role_arn: 'arn:aws:iam::{account}:role/R'}}]\n"
    )
    app = App(parse_config(text, {}))
    app.poller.start()
    try:
        assert app.poller.wait_ready(30)
        assert sample(app, "cleanrooms_collaborations", account, member_status="ACTIVE") == 3
        proxy.rules.append(
            always(Reply.aws_error(403, "AccessDeniedException"), "ListCollaborations")
        )
        wait_for(lambda: sample(app, "cleanrooms_target_up", account) == 0)
        # Within stale_after the last good data is still exported ...
        assert sample(app, "cleanrooms_collaborations", account, member_status="ACTIVE") == 3
        assert sample(app, "cleanrooms_target_stale", account) == 0
        last_success = sample(app, "cleanrooms_target_last_success_timestamp_seconds", account)
        wait_for(lambda: sample(app, "cleanrooms_target_stale", account) == 1, timeout=10)
        # ... and then it is gone, while the health series remain and say why.
        assert sample(app, "cleanrooms_collaborations", account, member_status="ACTIVE") is None
        assert sample(app, "cleanrooms_pending_invitations_oldest_age_seconds", account) is None
        assert sample(app, "cleanrooms_target_up", account) == 0
        assert (
            sample(app, "cleanrooms_target_last_success_timestamp_seconds", account) == last_success
        )
        assert (
            sample(
                app,
                "cleanrooms_target_last_error_info",
                account,
                operation="ListCollaborations",
                error_code="AccessDeniedException",
            )
            == 1
        )
    finally:
        app.poller.stop(timeout=1)


def test_cut_off_assume_role_answer_leaks_nothing_and_is_counted(
    proxy: FaultProxy,
    start_app: Callable[..., App],
    new_account: Callable[[], str],
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    account = new_account()
    secret = "LEAKED-SECRET-ACCESS-KEY-0123"
    body = (
        "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAX</AccessKeyId>"
        f"<SecretAccessKey>{secret}</SecretAccessKey><SessionToken>tok"
    ).encode()  # a 200 whose XML stops mid-element
    proxy.rules.append(always(Reply(200, body, {"Content-Type": "text/xml"}), "AssumeRole"))
    caplog.set_level(logging.DEBUG)
    saved = {n: logging.getLogger(n).level for n in ("botocore", "botocore.credentials")}
    quiet_libraries()  # the exporter's own logging set-up, as at start-up
    request.addfinalizer(lambda: [logging.getLogger(n).setLevel(v) for n, v in saved.items()])
    app = start_app(proxy.url, [account])
    error = app.poller.snapshot.states[(account, REGION)].last_error
    assert error is not None
    assert (error.operation, error.code) == ("AssumeRole", "InvalidResponse")
    labels = {"operation": "AssumeRole", "error_code": "InvalidResponse"}
    assert sample(app, "cleanrooms_api_errors_total", account, **labels) == 1
    assert secret not in caplog.text
    assert secret not in error.message
