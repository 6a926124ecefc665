"""Error messages as a user reads them: an endpoint's HTML error page reduced to its status
line and a short, safe excerpt in the preflight, the log and the status page alike; and
one AssumeRole prefix, not two."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from exporter.app import App
from exporter.aws.error_codes import EXCERPT_CHARS
from exporter.cli.main import main
from exporter.cli.preflight import preflight
from exporter.config import AccountConfig, parse_config
from exporter.web.statuspage import render_status_page
from tests.faultproxy import FaultProxy, Reply, always
from tests.helpers import Seeder, role

REGION = "us-east-1"
# What a proxy or a load balancer sends: markup, styles, a script, entities, and a long body.
PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title>"
    b"<style>h1 { color: red }</style></head>\n<body><h1>Internal Server Error</h1>\n"
    b"<p>The upstream &amp; the proxy\tfailed.</p>" + b"<p>detail</p>" * 500 + b"\n"
    b"<script>alert('x')</script></body></html>"
)
EXCERPT = "500 Internal Server Error Internal Server Error The upstream & the proxy failed. detail"
MESSAGE = f"HTTP 500 Internal Server Error: {EXCERPT}"


def config_text(endpoint: str, account: str) -> str:
    return (
        f"aws: {{endpoint_url: '{endpoint}', max_attempts: 1}}\n"
        "poll_interval: 1h\nstale_after: 2h\nrate_limit: {requests_per_second: 0}\n"
        f"accounts: [{{role_arn: '{role(account)}', regions: [{REGION}]}}]\n"
    )


def assert_reduced(message: str) -> None:
    """The status line and a bounded excerpt of the page's text: no markup, no script."""
    assert message.startswith(MESSAGE), message
    assert len(message) <= len("HTTP 500 Internal Server Error: ") + EXCERPT_CHARS
    assert message.endswith("\u2026")
    assert not re.search(r"[<>\t\n]|alert|color|&amp;", message), message


def test_an_html_error_page_is_reduced_everywhere_it_is_shown(
    proxy: FaultProxy,
    seeder: Seeder,
    new_account: Callable[[], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = new_account()
    seeder.statuses(account, REGION, ACTIVE=1)
    page = Reply(500, PAGE, {"Content-Type": "text/html"})
    proxy.rules.append(always(page, "ListCollaborations", account))
    path = tmp_path / "config.yaml"
    path.write_text(config_text(proxy.url, account))
    # The preflight.
    assert main(["--config.file", str(path), "--config.check", "--check.aws"]) == 1
    (line,) = (x for x in capsys.readouterr().out.splitlines() if " collaborations: " in x)
    prefix = f"{account} (role {role(account)}) {REGION} collaborations: FAILED: "
    assert line.startswith(f"{prefix}ListCollaborations: HTTP500: "), line
    assert_reduced(line.removeprefix(f"{prefix}ListCollaborations: HTTP500: "))
    # A poll: its error, its log line, the status page.
    app = App(parse_config(config_text(proxy.url, account), {}))
    logger = logging.getLogger("exporter")  # main() set it up: it no longer propagates
    logger.addHandler(caplog.handler)
    try:
        app.poller.start()
        assert app.poller.wait_ready(30)
    finally:
        app.poller.stop(timeout=1)
        logger.removeHandler(caplog.handler)
    error = app.snapshot().states[(account, REGION)].last_error
    assert error is not None
    assert (error.operation, error.code) == ("ListCollaborations", "HTTP500")
    assert_reduced(error.message)
    (logged,) = (r for r in caplog.records if getattr(r, "account", None) == account)
    assert_reduced(logged.getMessage().removeprefix("poll failed: "))
    page_html = render_status_page(app.snapshot())
    assert EXCERPT.replace("&", "&amp;") in page_html
    assert "&lt;" not in page_html
    assert "alert(" not in page_html


def test_an_assume_role_failure_names_assume_role_and_its_code_once(
    proxy: FaultProxy, new_account: Callable[[], str]
) -> None:
    account = new_account()
    # An external id the config check rejects, given straight to the preflight: botocore
    # refuses it before any request, as it would any parameter the file cannot show.
    config = parse_config(f"aws: {{endpoint_url: '{proxy.url}', max_attempts: 1}}\n", {})
    bad = AccountConfig(id=account, role_arn=role(account), external_id="x", regions=(REGION,))
    lines: list[str] = []
    assert preflight(replace(config, accounts=(bad,)), lines.append) == 1
    failed = lines[0]
    assert ": FAILED: AssumeRole: ParamValidationError: " in failed, failed
    assert failed.count("AssumeRole") == 1, failed
    assert failed.count("ParamValidationError") == 1, failed
    assert "Invalid length for parameter ExternalId" in failed, failed
