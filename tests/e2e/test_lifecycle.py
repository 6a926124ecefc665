"""Reload (SIGHUP and POST /-/reload), shutdown mid-poll, and no secret anywhere: real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_cli import free_port
from tests.faultproxy import FaultProxy, Reply, always, wait_for
from tests.helpers import Seeder

EXTERNAL_ID = "EXTERNAL-ID-SECRET-7f3a9c"
SECRET_KEY = "SECRET-ACCESS-KEY-d41d8cd98f"


def write_config(path: Path, endpoint: str, accounts: list[str]) -> None:
    roles = "\n".join(
        f"  - {{role_arn: 'arn:aws:iam::{a}:role/R', external_id: '${{EXT_ID}}'}}" for a in accounts
    )
    path.write_text(
        f"poll_interval: 1s\naws: {{endpoint_url: '{endpoint}', max_attempts: 1}}\n"
        f"accounts:\n{roles}\n"
    )


class Running:
    """An exporter subprocess with a config file it can be told to reload."""

    def __init__(self, config: Path, endpoint: str, *extra: str) -> None:
        self.config = config
        self.endpoint = endpoint
        self.port = free_port()
        env = {**os.environ, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "EXT_ID": EXTERNAL_ID}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                "--config.file",
                str(config),
                "--web.listen-address",
                f"127.0.0.1:{self.port}",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def write(self, accounts: list[str]) -> None:
        write_config(self.config, self.endpoint, accounts)

    def get(self, path: str) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def post(self, path: str) -> tuple[int, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def samples(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        _, body = self.get("/metrics")
        return {
            tuple(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(body)
            for s in family.samples
            if s.name == name
        }

    def accounts_up(self) -> set[str]:
        return {dict(k)["account_id"] for k in self.samples("cleanrooms_target_up")}

    def wait_ready(self) -> None:
        def ready() -> bool:
            try:
                return self.get("/-/ready")[0] == 200
            except OSError:
                return False

        wait_for(ready, timeout=60)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        """``wait_for``, but a timeout stops the exporter and shows the end of its log."""
        try:
            wait_for(predicate, timeout)
        except AssertionError:
            _, err, _ = self.stop()
            raise AssertionError(
                f"condition not met in time; exporter log:\n{err[-4000:]}"
            ) from None

    def stop(self) -> tuple[int, str, float]:
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=15)
        return self.proc.returncode, err, time.monotonic() - began


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(endpoint: str, accounts: list[str], *extra: str) -> Running:
        config = tmp_path / "config.yaml"
        write_config(config, endpoint, accounts)
        runner = Running(config, endpoint, *extra)
        started.append(runner)
        runner.wait_ready()
        return runner

    yield start
    for runner in started:
        if runner.proc.poll() is None:
            runner.proc.kill()
            runner.proc.communicate()


def listing_requests(run: Running, account: str) -> float:
    key = (("account_id", account), ("operation", "ListCollaborations"), ("region", "us-east-1"))
    return run.samples("cleanrooms_api_requests_total")[key]


def test_reload_by_sighup_and_http_keeps_counters_and_rejects_bad_config(
    proxy: FaultProxy,
    running: Callable[..., Running],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a, b, c = new_account(), new_account(), new_account()
    for account in (a, b, c):
        seeder.statuses(account, "us-east-1", ACTIVE=1)
    run = running(proxy.url, [a, b])
    assert run.accounts_up() == {a, b}
    wait_for(lambda: listing_requests(run, a) >= 2)
    before = listing_requests(run, a)

    run.write([a, c])
    run.proc.send_signal(signal.SIGHUP)
    run.wait_for(lambda: run.accounts_up() == {a, c})
    assert listing_requests(run, a) >= before  # kept target: counters not reset
    assert all(dict(k)["account_id"] != b for k in run.samples("cleanrooms_api_requests_total"))
    wait_for(
        lambda: (
            run.samples("cleanrooms_target_polls_total").get(
                (("account_id", c), ("region", "us-east-1")), 0
            )
            >= 1
        )
    )

    run.config.write_text("poll_interval: soon\naccounts: []\n")
    status, body = run.post("/-/reload")
    assert status == 500
    assert "poll_interval: invalid duration 'soon'" in body
    assert f"invalid configuration in {run.config}" in body  # the message names the file
    assert run.samples("cleanrooms_exporter_config_last_reload_successful")[()] == 0
    assert run.accounts_up() == {a, c}  # the old configuration keeps running
    page = run.get("/")[1]  # the status page says so too
    assert "last reload failed; the previous configuration runs" in page
    assert f"File {run.config}" in page
    assert "invalid duration &#39;soon&#39;" in page  # escaped by the template

    run.write([a])
    status, body = run.post("/-/reload")
    assert (status, body.strip()) == (200, "reloaded: 1 targets")
    assert run.samples("cleanrooms_exporter_config_last_reload_successful")[()] == 1
    assert run.accounts_up() == {a}
    page = run.get("/")[1]
    assert '<span class="ok">loaded</span>' in page
    assert "reloaded: 1 targets" in page
    code, err, _ = run.stop()
    assert code == 0
    assert "config reload failed, keeping the running configuration" in err


def test_sigterm_mid_poll_exits_promptly(
    proxy: FaultProxy,
    running: Callable[..., Running],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    account = new_account()
    seeder.statuses(account, "us-east-1", ACTIVE=1)
    run = running(proxy.url, [account])
    proxy.rules.append(always(Reply(action="hang"), "ListCollaborations"))
    seen = len(proxy.calls("ListCollaborations"))
    wait_for(lambda: len(proxy.calls("ListCollaborations")) > seen)  # a poll is now hanging
    code, _, took = run.stop()
    assert code == 0
    assert took < 3.5


def test_no_secret_in_metrics_status_page_or_debug_logs(
    proxy: FaultProxy,
    running: Callable[..., Running],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    good, denied = new_account(), new_account()
    seeder.statuses(good, "us-east-1", ACTIVE=1)
    proxy.rules.append(
        always(Reply.aws_error(403, "AccessDeniedException"), "ListCollaborations", denied)
    )
    run = running(proxy.url, [good, denied], "--log.level", "debug")
    wait_for(lambda: len(proxy.issued_secrets) >= 4)  # both accounts' role credentials
    _, metrics = run.get("/metrics")
    _, page = run.get("/")
    code, logs, _ = run.stop()
    assert code == 0
    assert "level=debug" in logs  # debug logging really was on
    secrets = [EXTERNAL_ID, SECRET_KEY, *proxy.issued_secrets]
    for where, text in (("metrics", metrics), ("status page", page), ("logs", logs)):
        for secret in secrets:
            assert secret not in text, f"a secret leaked into the {where}"


def test_reload_keeps_the_shard_flags(
    proxy: FaultProxy,
    running: Callable[..., Running],
    new_account: Callable[[], str],
) -> None:
    accounts = [new_account() for _ in range(9)]
    run = running(proxy.url, accounts, "--shard.count", "3", "--shard.index", "1")
    mine = run.accounts_up()
    assert 0 < len(mine) < len(accounts)
    run.proc.send_signal(signal.SIGHUP)
    status, body = run.post("/-/reload")
    assert status == 200, body
    assert run.accounts_up() == mine  # still this shard's share, not every account
    assert run.samples("cleanrooms_exporter_shards")[()] == 3
    assert run.samples("cleanrooms_exporter_shard_index")[()] == 1
