"""Check the Prometheus rules with promtool and hold every alert to the mixin conventions."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.paths import ROOT

PROMETHEUS_DIR = ROOT / "prometheus"
RULE_FILES = (PROMETHEUS_DIR / "rules.yaml", PROMETHEUS_DIR / "alerts.yaml")
TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.yaml"))
RUNBOOK = ROOT / "docs" / "runbook.md"

SEVERITIES = frozenset({"critical", "warning", "info"})
RUNBOOK_URL = re.compile(
    r"^https://github\.com/[\w.-]+/[\w.-]+/blob/main/docs/runbook\.md#(?P<anchor>[a-z0-9-]+)$"
)
ALERT_NAME = re.compile(r"^CleanRooms[A-Z][A-Za-z0-9]+$")


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = "promtool not found on PATH (Debian package: prometheus)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def load_rules(path: Path) -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [r for path in RULE_FILES for r in load_rules(path) if "alert" in r]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def runbook_anchors(markdown: str) -> set[str]:
    return {github_anchor(m) for m in re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, re.M)}


def alert_problems(rule: dict[str, Any], anchors: set[str]) -> list[str]:
    """Every mixin convention one alerting rule breaks."""
    name = str(rule.get("alert", ""))
    problems = []
    if not ALERT_NAME.match(name):
        problems.append(f"{name!r}: name must be CamelCase with the CleanRooms prefix")
    severity = rule.get("labels", {}).get("severity")
    if severity not in SEVERITIES:
        problems.append(f"{name}: severity {severity!r} is not one of {sorted(SEVERITIES)}")
    annotations = rule.get("annotations", {})
    for key in ("summary", "description", "runbook_url"):
        if not annotations.get(key):
            problems.append(f"{name}: no {key} annotation")
    description = annotations.get("description", "")
    if "absent(" not in rule.get("expr", "") and "$labels." not in description:
        problems.append(f"{name}: description should say which target, via $labels")
    match = RUNBOOK_URL.match(annotations.get("runbook_url", ""))
    if match is None:
        problems.append(f"{name}: runbook_url must point at a section of docs/runbook.md")
    elif match["anchor"] != name.lower():
        problems.append(f"{name}: runbook_url anchor {match['anchor']!r} is not {name.lower()!r}")
    elif match["anchor"] not in anchors:
        problems.append(f"{name}: docs/runbook.md has no section #{match['anchor']}")
    return problems


def test_promtool_check_rules(promtool: str) -> None:
    result = run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_promtool_test_rules(promtool: str, path: Path) -> None:
    result = run(promtool, "test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules_reports_a_wrong_expectation(promtool: str, tmp_path: Path) -> None:
    """The unit tests are only worth something if promtool fails on a wrong expectation."""
    source = PROMETHEUS_DIR / "tests" / "exporter_test.yaml"
    broken = source.read_text().replace("severity: critical", "severity: info")
    (tmp_path / "tests").mkdir()
    for rule_file in RULE_FILES:
        shutil.copy(rule_file, tmp_path / rule_file.name)
    (tmp_path / "tests" / source.name).write_text(broken)
    result = run(promtool, "test", "rules", str(tmp_path / "tests" / source.name))
    assert result.returncode != 0, result.stdout


def test_every_alert_is_shown_to_fire_and_to_stay_silent() -> None:
    fires: set[str] = set()
    silent: set[str] = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {a["alert"] for a in alerts()}
    assert names - fires == set(), "alerts never shown to fire"
    assert names - silent == set(), "alerts never shown to stay silent"


def test_every_recording_rule_is_unit_tested() -> None:
    recorded = {r["record"] for path in RULE_FILES for r in load_rules(path) if "record" in r}
    tested = {
        check["expr"].strip()
        for path in TEST_FILES
        for case in yaml.safe_load(path.read_text())["tests"]
        for check in case.get("promql_expr_test", [])
    }
    assert recorded
    assert recorded - tested == set()


def test_alerts_follow_conventions() -> None:
    anchors = runbook_anchors(RUNBOOK.read_text())
    rules = alerts()
    assert len(rules) >= 8
    problems = [p for rule in rules for p in alert_problems(rule, anchors)]
    assert problems == []


def test_runbook_has_no_section_for_a_missing_alert() -> None:
    sections = re.findall(r"^##\s+(CleanRooms\w+)\s*$", RUNBOOK.read_text(), re.M)
    assert set(sections) == {a["alert"] for a in alerts()}


def test_alert_names_are_unique() -> None:
    names = [a["alert"] for a in alerts()]
    assert len(names) == len(set(names))


# --- the convention check can fail -------------------------------------------

GOOD_ALERT: dict[str, Any] = {
    "alert": "CleanRoomsExample",
    "expr": "cleanrooms_target_up == 0",
    "labels": {"severity": "warning"},
    "annotations": {
        "summary": "Something is wrong.",
        "description": "Account {{ $labels.account_id }} is broken.",
        "runbook_url": "https://github.com/o/r/blob/main/docs/runbook.md#cleanroomsexample",
    },
}


def with_change(key: str, value: Any) -> dict[str, Any]:
    rule = {**GOOD_ALERT, "labels": dict(GOOD_ALERT["labels"])}
    rule["annotations"] = dict(GOOD_ALERT["annotations"])
    section, _, field_name = key.rpartition(".")
    target = rule[section] if section else rule
    if value is None:
        target.pop(field_name)
    else:
        target[field_name] = value
    return rule


def test_good_alert_passes() -> None:
    assert alert_problems(GOOD_ALERT, {"cleanroomsexample"}) == []


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("alert", "cleanrooms_example", "CamelCase"),
        ("alert", "ExampleDown", "CamelCase"),
        ("labels.severity", "page", "severity"),
        ("labels.severity", None, "severity"),
        ("annotations.summary", None, "no summary"),
        ("annotations.description", "", "no description"),
        ("annotations.description", "The target is broken.", "$labels"),
        ("annotations.runbook_url", None, "no runbook_url"),
        ("annotations.runbook_url", "https://example.com/runbook", "must point at"),
        (
            "annotations.runbook_url",
            "https://github.com/o/r/blob/main/docs/runbook.md#cleanroomsother",
            "is not 'cleanroomsexample'",
        ),
    ],
)
def test_alert_check_reports(key: str, value: Any, expected: str) -> None:
    problems = alert_problems(with_change(key, value), {"cleanroomsexample"})
    assert any(expected in p for p in problems), problems


def test_alert_check_reports_a_missing_runbook_section() -> None:
    problems = alert_problems(GOOD_ALERT, {"cleanroomsother"})
    assert any("no section" in p for p in problems), problems


def test_github_anchor() -> None:
    assert github_anchor("CleanRoomsTargetDown") == "cleanroomstargetdown"
    assert github_anchor("How to change the threshold?") == "how-to-change-the-threshold"
