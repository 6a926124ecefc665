"""The status page as a real headless Chromium renders it, checked against /metrics.

Two states: the demo (a subprocess, as a user runs it) and a generated organisation of
1,500 memberships (``tests/triage_world.py``, served in-process by the exporter's own
server, /metrics from the exporter's own renderer). For both, the summary line's counts
match what /metrics says, and the page stays short on a 1080p screen (1280 x 1080 px,
the window this test uses): the demo in two screens with every finding reachable by
opening its group, the organisation in three. The render takes at most 100 ms.

The demo's screenshot is the one the README shows: after a deliberate change to the
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
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from exporter.core.stats import ApiStats
from exporter.metrics.exposition import ExpositionRenderer
from exporter.metrics.scrape import SnapshotMetrics
from exporter.web.handlers import ExporterServer, WebApp
from exporter.web.statuspage import PageContext, render_status_page
from tests.conftest import require_tool
from tests.e2e.triage_metrics import expected_counts, samples
from tests.faultproxy import wait_for
from tests.paths import ROOT
from tests.pngtext import SECTIONS_KEY, with_text
from tests.triage_world import HOSTILE, organisation

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
# A 1080p screen at the window's width: the unit the page's height is measured in.
SCREEN_WIDTH, SCREEN_HEIGHT = 1280, 1080
DEMO_SCREENS, LARGE_SCREENS = 2, 3
MAX_VISIBLE_ROWS = 90  # table rows on the page as it opens, at any size
RENDER_BUDGET = 0.100  # seconds, server-side
# The stylesheet's colours as getComputedStyle gives them: red, amber, text, green.
RED, AMBER, TEXT = "rgb(207, 34, 46)", "rgb(154, 103, 0)", "rgb(31, 35, 40)"
UP_GREEN = "rgb(26, 127, 55)"
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
    f"--window-size={SCREEN_WIDTH},{SCREEN_HEIGHT}",
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
        screen(driver, SCREEN_HEIGHT)
        yield driver
    finally:
        driver.quit()


def screen(browser: WebDriver, height: int) -> None:
    """The viewport exactly SCREEN_WIDTH x ``height``, whatever the window's chrome takes."""
    metrics = {"width": SCREEN_WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def test_status_page_renders_every_target_as_metrics_report_it(
    browser: WebDriver, exporter: Exporter
) -> None:
    browser.get(f"{exporter.url}/")
    metrics = fetch(f"{exporter.url}/metrics")
    assert browser.title == "Clean Rooms exporter"
    open_every_group(browser)  # Selenium reads the text of what is shown only
    rows = browser.find_elements(By.CSS_SELECTOR, "table.targets tbody tr")
    assert len(rows) == len(TARGETS)
    seen = {check_target_row(row, metrics, exporter.started) for row in rows}
    assert seen == TARGETS
    check_invitations(browser, metrics)
    assert browser.find_element(By.ID, "no-failing").text == (
        "Every polled target and collector is up."
    )
    assert "no reload" in browser.find_element(By.ID, "reload").text  # the demo's built-in config


def check_target_row(row: WebElement, metrics: str, started: float) -> Target:
    target = (row.get_attribute("data-account-id") or "", row.get_attribute("data-region") or "")
    cells = row.find_elements(By.TAG_NAME, "td")
    texts = [cell.text for cell in cells]
    assert len(cells) == 6, texts
    assert texts[0] == f"{ACCOUNTS[target[0]]} {target[0]}"  # the name first, then the id
    assert texts[1] == target[1]
    assert (cells[2].get_attribute("class"), texts[2]) == ("up", "up"), target
    assert colour(browser_of(row), cells[2]) == UP_GREEN
    stamp = texts[3]
    assert _STAMP.match(stamp), f"{target}: last success {stamp!r}"
    when = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)
    assert int(started) <= when.timestamp() <= time.time(), f"{target}: {stamp}"
    assert stamp == utc_stamp(
        series(metrics, "cleanrooms_target_last_success_timestamp_seconds")[target]
    )
    assert texts[4] == "", f"{target}: last error {texts[4]!r}"
    match = _COLLABORATIONS.match(texts[5])
    assert match, f"collaborations cell {texts[5]!r}"
    by_status = {s: int(n) for s, n in (p.rsplit(" ", 1) for p in match[2].split(", "))}
    counts = {
        s.labels["member_status"]: int(s.value)
        for s in samples(metrics)
        if s.name == "cleanrooms_collaborations"
        and (s.labels["account_id"], s.labels["region"]) == target
    }
    assert int(match[1]) == sum(counts.values()) > 0, f"{target}: {texts[5]}"
    assert {k: v for k, v in by_status.items() if v} == {k: v for k, v in counts.items() if v}
    return target


def series(metrics: str, name: str) -> dict[Target, float]:
    return {
        (s.labels["account_id"], s.labels["region"]): s.value
        for s in samples(metrics)
        if s.name == name
    }


def utc_stamp(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def check_invitations(browser: WebDriver, metrics: str) -> None:
    """The invitations tables hold exactly the INVITED series: untrusted first, then oldest."""
    expected = {
        s.labels["collaboration_id"]: s.labels
        for s in samples(metrics)
        if s.name == "cleanrooms_collaboration_info" and s.labels["member_status"] == "INVITED"
    }
    rows = browser.find_elements(By.CSS_SELECTOR, "table.invitations tbody tr")
    assert len(rows) == len(expected) > 0
    order = [
        (
            row.get_attribute("data-trust") != "untrusted",
            float(row.get_attribute("data-created") or "nan"),
        )
        for row in rows
    ]
    assert order == sorted(order), "untrusted first, then oldest first"
    for row in rows:
        labels = expected[row.get_attribute("data-collaboration-id") or ""]
        texts = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        assert texts[0] == f"{labels['collaboration_name']} {labels['collaboration_id']}"
        assert re.fullmatch(r"\d+d \d+h|\d+h \d+m|\d+m", texts[1]), texts[1]
        assert texts[2] == f"{labels['creator_display_name']} {labels['creator_account_id']}"
        assert texts[3] == row.get_attribute("data-trust") in {"trusted", "untrusted"}
        assert texts[4] == f"{ACCOUNTS[labels['account_id']]} {labels['account_id']}"
        assert texts[5] == labels["region"]
    untrusted = sum(
        int(v) for v in series(metrics, "cleanrooms_untrusted_pending_invitations").values()
    )
    assert sum(row.get_attribute("data-trust") == "untrusted" for row in rows) == untrusted > 0


def test_the_demo_page_is_a_triage_view_on_two_screens(
    browser: WebDriver, exporter: Exporter
) -> None:
    render = server_time(browser, f"{exporter.url}/")
    metrics = fetch(f"{exporter.url}/metrics")
    check_summary(browser, metrics)
    check_colours(browser)
    height = page_height(browser)
    assert height <= DEMO_SCREENS * SCREEN_HEIGHT, f"{height} px: more than {DEMO_SCREENS} screens"
    assert visible_rows(browser) <= MAX_VISIBLE_ROWS
    assert render <= RENDER_BUDGET, f"render took {render * 1000:.0f} ms"
    save_screenshot(browser)  # as the page opens: groups of information folded
    check_every_finding_reachable(browser)


def test_a_1500_membership_page_stays_on_three_screens(browser: WebDriver) -> None:
    world = organisation()
    context = PageContext(trusted_creators=world.trusted)
    collector = SnapshotMetrics(lambda: world.snapshot, ApiStats(), lambda: world.settings)
    app = WebApp(
        ExpositionRenderer(collector).render_parts,
        lambda: world.snapshot,
        page_context=lambda: context,
    )
    server = ExporterServer(("127.0.0.1", 0), app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        served = server_time(browser, f"{url}/")
        metrics, body = fetch(f"{url}/metrics"), fetch(f"{url}/")
        check_summary(browser, metrics)
        check_colours(browser)
        height, rows = page_height(browser), visible_rows(browser)
        assert height <= LARGE_SCREENS * SCREEN_HEIGHT, (
            f"{height} px: more than {LARGE_SCREENS} screens"
        )
        assert rows <= MAX_VISIBLE_ROWS, f"{rows} rows shown"
        # A collaboration named like a script shows as text: the template escaped it.
        assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; Partners" in body
        assert "<script" not in body
        assert browser.execute_script("return document.scripts.length") == 0
        assert served <= RENDER_BUDGET, f"served in {served * 1000:.0f} ms"
    finally:
        server.shutdown()
        server.server_close()
    timings = []
    for _ in range(5):
        begun = time.perf_counter()
        render_status_page(world.snapshot, context)
        timings.append(time.perf_counter() - begun)
    assert min(timings) <= RENDER_BUDGET, f"render took {min(timings) * 1000:.0f} ms"
    assert HOSTILE not in body


def server_time(browser: WebDriver, url: str, loads: int = 3) -> float:
    """Load the page; the quickest of ``loads`` times from request to first byte, seconds."""
    quickest = float("inf")
    for _ in range(loads):
        browser.get(url)
        took = browser.execute_script(
            "const t = performance.getEntriesByType('navigation')[0];"
            "return t.responseStart - t.requestStart;"
        )
        quickest = min(quickest, float(took) / 1000)
    return quickest


def check_summary(browser: WebDriver, metrics: str) -> None:
    """Every count of the summary line is what /metrics says; what needs action is red."""
    expected = expected_counts(metrics)
    shown: dict[str, int] = {}
    for item in browser.find_elements(By.CSS_SELECTOR, "#summary .count"):
        what = item.get_attribute("data-what") or ""
        shown[what] = int(item.get_attribute("data-count") or -1)
        if "action" in (item.get_attribute("class") or "").split():
            assert what in expected, f"{what!r} needs action: teach tests/e2e/triage_metrics.py"
            assert colour(browser, item) == RED
    for what, count in expected.items():
        assert shown.get(what, 0) == count, f"{what}: page {shown.get(what)}, /metrics {count}"
    for group in browser.find_elements(By.CSS_SELECTOR, "details.group[data-severity=action]"):
        kind = group.get_attribute("data-kind") or ""
        assert int(group.get_attribute("data-count") or -1) == expected[kind], kind


def check_colours(browser: WebDriver) -> None:
    """Groups most pressing first; red only for what needs action, amber at a limit."""
    ranks = {"action": 0, "at_limit": 1, "info": 2}
    groups = browser.find_elements(By.CSS_SELECTOR, "details.group")
    severities = [g.get_attribute("data-severity") or "" for g in groups]
    assert [ranks[s] for s in severities] == sorted(ranks[s] for s in severities)
    colours = browser.execute_script(
        "return [...document.querySelectorAll('tr.finding td.what')].map(td =>"
        " [td.parentElement.dataset.severity, getComputedStyle(td).color]);"
    )
    assert colours, "the page lists findings"
    for severity, colour in colours:
        assert colour == {"action": RED, "at_limit": AMBER, "info": TEXT}[severity], severity


def colour(browser: WebDriver, element: WebElement) -> str:
    return str(browser.execute_script("return getComputedStyle(arguments[0]).color", element))


def browser_of(element: WebElement) -> WebDriver:
    driver: WebDriver = element.parent
    return driver


def page_height(browser: WebDriver) -> int:
    return int(browser.execute_script("return document.documentElement.scrollHeight"))


def visible_rows(browser: WebDriver, selector: str = "tr") -> int:
    """Rows the page shows: those inside a closed <details> are laid out but not visible."""
    return int(
        browser.execute_script(
            "return [...document.querySelectorAll(arguments[0])]"
            ".filter(r => r.checkVisibility()).length",
            selector,
        )
    )


def open_every_group(browser: WebDriver) -> None:
    browser.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")


def check_every_finding_reachable(browser: WebDriver) -> None:
    """Opening the groups shows every finding the group headers count: none left unlisted."""
    open_every_group(browser)
    counted = sum(
        int(g.get_attribute("data-findings") or 0)
        for g in browser.find_elements(By.CSS_SELECTOR, "details.group")
    )
    assert visible_rows(browser, "tr.finding") == counted > 0
    assert not browser.find_elements(By.CSS_SELECTOR, ".unlisted")


def save_screenshot(browser: WebDriver) -> None:
    """The whole page at 1280 px wide, with nothing wider than the window."""
    scroll_width = browser.execute_script("return document.documentElement.scrollWidth")
    assert scroll_width <= SCREEN_WIDTH, "the page scrolls sideways at 1280 px"
    height = page_height(browser)
    screen(browser, max(height, MIN_SCREENSHOT_HEIGHT))
    SCREENSHOT.parent.mkdir(exist_ok=True)
    png = browser.get_screenshot_as_png()
    screen(browser, SCREEN_HEIGHT)
    # The page's section headings go with the picture: a test compares them with the page.
    headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    png = with_text(png, SECTIONS_KEY, "\n".join(headings))
    SCREENSHOT.write_bytes(png)
    assert png.startswith(PNG_MAGIC)
    assert len(png) > MIN_SCREENSHOT_BYTES
    width, shot_height = struct.unpack(">II", png[16:24])
    assert width == SCREEN_WIDTH
    assert shot_height >= min(height, 4000)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        README_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(SCREENSHOT, README_SCREENSHOT)


def test_readme_screenshot_is_a_saved_status_page() -> None:
    png = README_SCREENSHOT.read_bytes()
    assert png.startswith(PNG_MAGIC)
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height >= MIN_SCREENSHOT_HEIGHT) == (SCREEN_WIDTH, True)
    readme = (ROOT / "README.md").read_text()
    assert "](docs/images/status-page.png)" in readme
