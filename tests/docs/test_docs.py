"""The documentation agrees with the repository: links resolve, tables cover what exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.paths import ROOT

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.name}: link to missing {target}"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{page.name}: no heading for {target}"


def test_readme_is_a_first_hour_page() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 260
    assert "Python 3.11" in text
    assert "chromium-driver" in text
    assert "](docs/images/status-page.png)" in text
    for page in PAGES:
        assert "*Addition.*" not in page.read_text(), page.name


def test_severity_table_lists_every_alert_with_its_severity() -> None:
    groups = yaml.safe_load((ROOT / "prometheus" / "alerts.yaml").read_text())["groups"]
    severities = {rule["alert"]: rule["labels"]["severity"] for g in groups for rule in g["rules"]}
    text = (ROOT / "docs" / "monitoring.md").read_text()
    table: dict[str, str] = {}
    for severity, alerts in re.findall(r"^\| `(\w+)` \|[^|]*\| ([^|]+) \|$", text, re.M):
        for alert in alerts.split(","):
            table[alert.strip()] = severity
    assert table == severities


def test_every_alert_has_a_runbook_section() -> None:
    groups = yaml.safe_load((ROOT / "prometheus" / "alerts.yaml").read_text())["groups"]
    sections = anchors(ROOT / "docs" / "runbook.md")
    for rule in (r for g in groups for r in g["rules"]):
        assert rule["alert"].lower() in sections


def test_documented_check_output_of_an_empty_file_is_the_real_one(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    section = text.split("## What `--config.check` prints", 1)[1]
    documented = re.search(r"```\n(.*?)```", section, re.S)
    assert documented
    empty = tmp_path / "config.yaml"
    empty.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--config.file", str(empty), "--config.check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Every documented line, in order; the real output may say more (so a new line of
    # output does not make the page wrong, only incomplete).
    lines = iter(result.stdout.splitlines())
    for wanted in documented[1].splitlines():
        assert any(line == wanted for line in lines), f"not in the output: {wanted!r}"
