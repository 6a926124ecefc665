"""The texts a first day reads are right: the runbook's commands, counts, pointers, ignores."""

from __future__ import annotations

import re
import subprocess

from tests.paths import ROOT

WORDS = {"one": 1, "both": 2, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def docs() -> dict[str, str]:
    return {p.name: p.read_text() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]}


def test_every_assume_role_in_the_docs_uses_the_readme_role_and_its_external_id() -> None:
    found = 0
    for name, text in docs().items():
        for command in re.findall(r"aws sts assume-role(?:[^\n]*\\\n)*[^\n]*", text):
            found += 1
            assert "--external-id" in command, (name, command)
            assert ":role/CleanRoomsReadOnly" in command, (name, command)
    assert found >= 2


def test_counts_of_dashboards_in_the_docs_are_the_shipped_number() -> None:
    shipped = len(list((ROOT / "grafana" / "dashboards").glob("*.json")))
    for name, text in docs().items():
        for word in re.findall(r"\b(\w+) dashboards\b", text, re.IGNORECASE):
            if word.lower() in WORDS:
                assert WORDS[word.lower()] == shipped, (name, word)


def test_the_example_config_points_to_the_doc_of_each_optional_section() -> None:
    text = (ROOT / "config.example.yaml").read_text()
    (pointer,) = re.findall(r"# Optional, for large organisations \(see ([^)]+)\):", text)
    doc = (ROOT / pointer).read_text()
    for key in ("discovery:", "sharding", "rate_limit"):
        assert key in doc, (pointer, key)


def test_a_local_config_is_never_committed_by_mistake() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "config.yaml"], cwd=ROOT, check=False
    ).returncode
    assert ignored == 0


def test_the_first_config_is_small_and_every_line_says_what_it_is_for() -> None:
    lines = (ROOT / "examples" / "one-account.yaml").read_text().splitlines()
    settings = [line for line in lines if line.strip() and not line.startswith("#")]
    assert len(settings) <= 15
    for line in settings:
        assert " # " in line or line.rstrip().endswith(":"), line
