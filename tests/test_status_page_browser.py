"""The status page as a real headless Chromium renders it, checked against /metrics."""

from __future__ import annotations

import re
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import require_tool
from tests.faultproxy import wait_for

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "test-artifacts" / "status-page.png"
ACCOUNTS = {"111111111111": "prod", "222222222222": "analytics", "333333333333": "partner-sandbox"}
TARGETS = {
    ("111111111111", "us-east-1"),
    ("111111111111", "eu-west-2"),
    ("222222222222", "us-east-1"),
    ("222222222222", "eu-west-2"),
    ("333333333333", "us-east-1"),
}
# The stylesheet's colour for .up, as the browser computes it.
UP_GREEN = "rgba(26, 127, 55, 1)"
WINDOW_WIDTH = 1280
# The browser runs with the network closed: nothing may call home or update itself.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--window-size={WINDOW_WIDTH},720",
)
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$")
_COLLABORATIONS = re.compile(r"^(\d+) \((.*)\)$")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MIN_SCREENSHOT_BYTES = 5000
MIN_SCREENSHOT_HEIGHT = 400

Target = tuple[str, str]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
    return body.decode()


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass(frozen=True)
class Exporter:
    url: str
    started: float


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[Exporter]:
    """The demo exporter after its first poll round; it does not poll again during the test."""
    started = time.time()
    address = f"127.0.0.1:{free_port()}"
    log = tmp_path / "exporter.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                "--demo",
                "--web.listen-address",
                address,
                "--demo.poll-interval",
                "5m",
                "--demo.throttle-ratio",
                "0",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def serving() -> bool:
        assert proc.poll() is None, f"exporter exited {proc.returncode}:\n{log.read_text()}"
        return ready(f"http://{address}/-/ready")

    try:
        wait_for(serving, timeout=60)
        yield Exporter(f"http://{address}", started)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebDriver]:
    """Headless Chromium through chromedriver, both from the system; nothing is downloaded."""
    chromium = require_tool("chromium")
    chromedriver = require_tool("chromedriver")
    # Selenium Manager must never fetch a browser or driver; explicit paths skip it anyway.
    monkeypatch.setenv("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    service = Service(executable_path=chromedriver, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()


def collaboration_counts(metrics: str) -> dict[Target, dict[str, int]]:
    """cleanrooms_collaborations by target and member status, from an exposition."""
    counts: dict[Target, dict[str, int]] = defaultdict(dict)
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == "cleanrooms_collaborations":
                target = (sample.labels["account_id"], sample.labels["region"])
                counts[target][sample.labels["member_status"]] = int(sample.value)
    return counts


def last_successes(metrics: str) -> dict[Target, float]:
    return {
        (s.labels["account_id"], s.labels["region"]): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
        if s.name == "cleanrooms_target_last_success_timestamp_seconds"
    }


def parse_collaborations(text: str) -> tuple[int, dict[str, int]]:
    """'8 (ACTIVE 3, INVITED 5)' -> (8, {'ACTIVE': 3, 'INVITED': 5})."""
    match = _COLLABORATIONS.match(text)
    assert match, f"collaborations cell {text!r}"
    by_status = {}
    for part in match.group(2).split(", "):
        status, count = part.rsplit(" ", 1)
        by_status[status] = int(count)
    return int(match.group(1)), by_status


def utc_stamp(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def test_status_page_renders_every_target_as_metrics_report_it(
    browser: WebDriver, exporter: Exporter
) -> None:
    browser.get(f"{exporter.url}/")
    rows = browser.find_elements(By.CSS_SELECTOR, "table#targets tbody tr")
    metrics = fetch(f"{exporter.url}/metrics")
    counts = collaboration_counts(metrics)
    successes = last_successes(metrics)

    assert browser.title == "Clean Rooms exporter"
    assert browser.find_element(By.ID, "targets").is_displayed()
    assert len(rows) == len(TARGETS)
    seen: set[Target] = set()
    for row in rows:
        account_id = row.get_attribute("data-account-id") or ""
        region = row.get_attribute("data-region") or ""
        target = (account_id, region)
        seen.add(target)
        cells = row.find_elements(By.TAG_NAME, "td")
        texts = [cell.text for cell in cells]
        assert len(cells) == 6, texts
        assert texts[0] == f"{account_id} ({ACCOUNTS.get(account_id)})"
        assert texts[1] == region
        assert (cells[2].get_attribute("class"), texts[2]) == ("up", "up"), target
        assert cells[2].value_of_css_property("color") == UP_GREEN

        stamp = cells[3].text
        assert _STAMP.match(stamp), f"{target}: last success {stamp!r}"
        when = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
        assert int(exporter.started) <= when.timestamp() <= time.time(), f"{target}: {stamp}"
        assert stamp == utc_stamp(successes[target]), target
        assert texts[4] == "", f"{target}: last error {texts[4]!r}"

        total, by_status = parse_collaborations(texts[5])
        assert total == sum(counts[target].values()) > 0, f"{target}: {texts[5]}"
        nonzero = {status: n for status, n in counts[target].items() if n}
        assert {status: n for status, n in by_status.items() if n} == nonzero, target
    assert seen == TARGETS

    SCREENSHOT.parent.mkdir(exist_ok=True)
    png = browser.get_screenshot_as_png()
    SCREENSHOT.write_bytes(png)
    assert png.startswith(PNG_MAGIC)
    assert len(png) > MIN_SCREENSHOT_BYTES
    width, height = struct.unpack(">II", png[16:24])
    assert width == WINDOW_WIDTH
    assert height >= MIN_SCREENSHOT_HEIGHT
