"""Prometheus' naming rules that ``promtool check metrics`` does not check, on every family.

Data-driven: the families come from the whole demo exposition with every collector on
(``conftest.full_exposition``), so a new collector's families are held to the rules
without a line here. The rules (prometheus/docs ``practices/naming.md``):

- base units only: ``_seconds``, ``_bytes``, ``_ratio`` ..., never hours, minutes,
  milliseconds, kilobytes or percent; a base unit is the name's suffix (before ``_total``);
- ``_total`` on counters, and on counters only;
- ``_info`` only on info series: gauges whose every sample is 1 and carries labels;
- a Unix time is a ``_timestamp_seconds`` gauge, and only a Unix time is;
- every family in the ``cleanrooms_`` namespace, none ending in a histogram's reserved
  ``_count``, ``_sum`` or ``_bucket``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

NAMESPACE = "cleanrooms_"
BASE_UNITS = ("seconds", "bytes", "ratio", "meters", "volts", "amperes", "joules", "grams")
# Non-base units a name might carry, and the base unit to use instead.
NOT_BASE = {
    **dict.fromkeys(
        ("hours", "hour", "minutes", "minute", "days", "day", "weeks", "week", "years"), "seconds"
    ),
    **dict.fromkeys(("milliseconds", "millis", "ms", "microseconds", "us"), "seconds"),
    **dict.fromkeys(("nanoseconds", "ns", "sec", "secs", "second", "mins", "hrs"), "seconds"),
    **dict.fromkeys(("kilobytes", "megabytes", "gigabytes", "kb", "mb", "gb"), "bytes"),
    **dict.fromkeys(("kib", "mib", "gib", "bits", "byte"), "bytes"),
    **dict.fromkeys(("percent", "percentage", "pct"), "ratio"),
}
# A sample value from 2001 (1e9 s) to 2286 (1e10 s) is a Unix time, whatever its name says.
UNIX_TIME = (1e9, 1e10)
UNIX_WORDS = re.compile(r"\bunix (time|seconds)\b|\btimestamp\b|\bepoch\b", re.I)


@dataclass(frozen=True)
class Family:
    """One family as ``/metrics`` names it (a counter with its ``_total``)."""

    name: str
    type: str
    help: str
    samples: tuple[tuple[str, dict[str, str], float], ...]


def families(text: str) -> list[Family]:
    found = []
    for family in text_string_to_metric_families(text):
        name = f"{family.name}_total" if family.type == "counter" else family.name
        samples = tuple((s.name, dict(s.labels), s.value) for s in family.samples)
        found.append(Family(name, family.type, family.documentation, samples))
    return found


def problems(family: Family) -> list[str]:
    """Each naming rule ``family`` breaks, in a sentence naming it."""
    return [
        f"{family.name}: {problem}"
        for check in (_units, _total, _info, _timestamp, _namespace)
        for problem in check(family)
    ]


def _units(family: Family) -> list[str]:
    words = family.name.split("_")
    found = [
        f"uses {word}: use the base unit {NOT_BASE[word]}" for word in words if word in NOT_BASE
    ]
    stem = family.name.removesuffix("_total")
    for unit in BASE_UNITS:
        if unit in words and not stem.endswith(f"_{unit}"):
            found.append(f"the unit {unit} must end the name (before _total on a counter)")
    return found


def _total(family: Family) -> list[str]:
    if family.type == "counter" and not family.name.endswith("_total"):
        return ["a counter must end in _total"]
    if family.type != "counter" and "total" in family.name.split("_"):
        return [f"only counters end in _total; this is a {family.type}"]
    return []


def _info(family: Family) -> list[str]:
    if not family.name.endswith("_info"):
        return []
    found = [] if family.type in ("gauge", "info") else [f"an _info series is a {family.type}"]
    for _, labels, value in family.samples:
        if value != 1 or not labels:
            found.append(f"an _info sample is 1 with labels, got {value} with {labels}")
            break
    return found


def _timestamp(family: Family) -> list[str]:
    name_says = family.name.endswith("_timestamp_seconds")
    if "timestamp" in family.name.split("_") and not name_says:
        return ["a timestamp ends in _timestamp_seconds"]
    if name_says:
        return [] if family.type == "gauge" else [f"a timestamp is a gauge, not a {family.type}"]
    if UNIX_WORDS.search(family.help):
        return ["its HELP speaks of a Unix time: name it *_timestamp_seconds"]
    if family.type == "gauge":
        for _, _, value in family.samples:
            if UNIX_TIME[0] <= value <= UNIX_TIME[1]:
                return [f"holds a Unix time ({value:.0f}): name it *_timestamp_seconds"]
    return []


def _namespace(family: Family) -> list[str]:
    found = [] if family.name.startswith(NAMESPACE) else [f"outside the {NAMESPACE} namespace"]
    if family.type != "histogram" and family.name.endswith(("_count", "_sum", "_bucket")):
        found.append("_count, _sum and _bucket are a histogram's")
    return found


def test_every_family_keeps_the_naming_rules(full_exposition: str) -> None:
    found = families(full_exposition)
    assert len(found) > 50  # the whole exposition, not a part of it
    assert [p for family in found for p in problems(family)] == []


def exposition(name: str, kind: str, help_text: str, *samples: str) -> str:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples]
    return "\n".join(lines) + "\n"


# Each rule can fail: (exposition, a fragment of the problem it must raise).
BROKEN = {
    "hours": (
        exposition(
            "cleanrooms_billed_crpu_hours_total",
            "counter",
            "x",
            "cleanrooms_billed_crpu_hours_total 1",
        ),
        "uses hours: use the base unit seconds",
    ),
    "milliseconds": (
        exposition("cleanrooms_poll_milliseconds", "gauge", "x", "cleanrooms_poll_milliseconds 3"),
        "uses milliseconds",
    ),
    "percent": (
        exposition("cleanrooms_usage_percent", "gauge", "x", "cleanrooms_usage_percent 30"),
        "use the base unit ratio",
    ),
    "unit not the suffix": (
        exposition("cleanrooms_seconds_waiting", "gauge", "x", "cleanrooms_seconds_waiting 3"),
        "the unit seconds must end the name",
    ),
    "_total on a gauge": (
        exposition("cleanrooms_polls_total", "gauge", "x", "cleanrooms_polls_total 3"),
        "only counters end in _total",
    ),
    "_info not 1": (
        exposition("cleanrooms_thing_info", "gauge", "x", 'cleanrooms_thing_info{a="b"} 2'),
        "an _info sample is 1 with labels",
    ),
    "_info without labels": (
        exposition("cleanrooms_thing_info", "gauge", "x", "cleanrooms_thing_info 1"),
        "an _info sample is 1 with labels",
    ),
    "a Unix time by its value": (
        exposition("cleanrooms_last_success", "gauge", "x", "cleanrooms_last_success 1.8e9"),
        "holds a Unix time",
    ),
    "a Unix time by its HELP": (
        exposition(
            "cleanrooms_last_success", "gauge", "Unix time of it.", "cleanrooms_last_success 0"
        ),
        "its HELP speaks of a Unix time",
    ),
    "a timestamp in milliseconds": (
        exposition(
            "cleanrooms_created_timestamp_ms", "gauge", "x", "cleanrooms_created_timestamp_ms 0"
        ),
        "a timestamp ends in _timestamp_seconds",
    ),
    "outside the namespace": (
        exposition("collaborations", "gauge", "x", "collaborations 1"),
        "outside the cleanrooms_ namespace",
    ),
}


@pytest.mark.parametrize("case", BROKEN)
def test_each_rule_can_fail(case: str) -> None:
    text, expected = BROKEN[case]
    found = [p for family in families(text) for p in problems(family)]
    assert any(expected in p for p in found), found
