"""The status page as a real headless Chromium renders it, checked against /metrics.

The screenshot it saves is the one the README shows: after a deliberate change to the
page, `UPDATE_GOLDEN=1 .venv/bin/pytest tests/e2e/test_status_page_browser.py` copies it to
docs/images/status-page.png.
"""

from __future__ import annotations

import os
import re
import shutil
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
from tests.paths import ROOT
from tests.pngtext import SECTIONS_KEY, with_text

SCREENSHOT = ROOT / "test-artifacts" / "status-page.png"
README_SCREENSHOT = ROOT / "docs" / "images" / "status-page.png"
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


def invitations(metrics: str) -> dict[str, dict[str, str]]:
    """INVITED collaborations by id: their info labels plus the creation time."""
    found: dict[str, dict[str, str]] = {}
    created: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics):
        for s in family.samples:
            if s.labels.get("member_status") != "INVITED":
                continue
            if s.name == "cleanrooms_collaboration_info":
                found[s.labels["collaboration_id"]] = dict(s.labels)
            elif s.name == "cleanrooms_collaboration_created_timestamp_seconds":
                created[s.labels["collaboration_id"]] = s.value
    for cid, labels in found.items():
        labels["created"] = f"{created[cid]:.3f}"
    return found


def untrusted_counts(metrics: str) -> dict[Target, int]:
    return {
        (s.labels["account_id"], s.labels["region"]): int(s.value)
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
        if s.name == "cleanrooms_untrusted_pending_invitations"
    }


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
    check_invitations(browser, metrics)
    assert browser.find_element(By.ID, "no-failing").text == "Every polled target is up."
    urgencies = [
        int(row.get_attribute("data-urgency") or -1)
        for row in browser.find_elements(By.CSS_SELECTOR, "table#attention tbody tr")
    ]
    assert urgencies == sorted(urgencies), "most urgent first"
    assert "no reload" in browser.find_element(By.ID, "reload").text  # the demo's built-in config
    save_screenshot(browser)


def check_invitations(browser: WebDriver, metrics: str) -> None:
    """The pending invitations table holds exactly the INVITED series, oldest first."""
    expected = invitations(metrics)
    rows = browser.find_elements(By.CSS_SELECTOR, "table#invitations tbody tr")
    assert len(rows) == len(expected) > 0
    created = [float(row.get_attribute("data-created") or "nan") for row in rows]
    assert created == sorted(created), "oldest first"
    untrusted: dict[Target, int] = defaultdict(int)
    for row in rows:
        cid = row.get_attribute("data-collaboration-id") or ""
        labels = expected[cid]
        texts = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        assert row.get_attribute("data-created") == labels["created"]
        assert texts[1].splitlines() == [labels["collaboration_name"], cid]
        assert texts[2:4] == [labels["creator_account_id"], labels["creator_display_name"]]
        assert texts[4] in {"trusted", "untrusted"}
        target = (labels["account_id"], labels["region"])
        untrusted[target] += texts[4] == "untrusted"
        assert texts[5] == f"{target[0]} ({ACCOUNTS[target[0]]})"
        assert texts[6] == target[1]
        assert re.fullmatch(r"\d+d \d+h|\d+h \d+m|\d+m", texts[0]), texts[0]
    assert {t: n for t, n in untrusted_counts(metrics).items() if n} == {
        t: n for t, n in untrusted.items() if n
    }
    assert sum(untrusted.values()) > 0, "the demo has untrusted invitations"


def save_screenshot(browser: WebDriver) -> None:
    """The whole page at 1280 px wide, with nothing wider than the window."""
    scroll_width = browser.execute_script("return document.documentElement.scrollWidth")
    assert scroll_width <= WINDOW_WIDTH, "the page scrolls sideways at 1280 px"
    height = browser.execute_script("return document.documentElement.scrollHeight")
    # The window includes some browser chrome even headless: leave room for it.
    browser.set_window_size(WINDOW_WIDTH, max(int(height) + 200, MIN_SCREENSHOT_HEIGHT))
    SCREENSHOT.parent.mkdir(exist_ok=True)
    png = browser.get_screenshot_as_png()
    # The page's section headings go with the picture: a test compares them with the page.
    headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    png = with_text(png, SECTIONS_KEY, "\n".join(headings))
    SCREENSHOT.write_bytes(png)
    assert png.startswith(PNG_MAGIC)
    assert len(png) > MIN_SCREENSHOT_BYTES
    width, shot_height = struct.unpack(">II", png[16:24])
    assert width == WINDOW_WIDTH
    assert shot_height >= min(int(height), 4000)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        README_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(SCREENSHOT, README_SCREENSHOT)


def test_readme_screenshot_is_a_saved_status_page() -> None:
    png = README_SCREENSHOT.read_bytes()
    assert png.startswith(PNG_MAGIC)
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height >= MIN_SCREENSHOT_HEIGHT) == (WINDOW_WIDTH, True)
    readme = (ROOT / "README.md").read_text()
    assert "](docs/images/status-page.png)" in readme
