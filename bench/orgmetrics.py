"""What ``bench.orgscale`` reads from the exporter's own metrics, and what it expects of it.

The schedule lag and the series per collector come from ``/metrics`` as Prometheus would
read them, asked for with ``name[]`` so the reading costs a small scrape; the calls a
second expected come from each collector's ``polling.calls`` formula and interval.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from dataclasses import dataclass

LAG = "cleanrooms_exporter_poll_lag_ratio"
SERIES = "cleanrooms_exporter_series"
OPENMETRICS = "application/openmetrics-text;version=1.0.0"
LATE = 0.1  # the bound: no poll later than a tenth of its interval


def fetch(base: str, names: list[str]) -> str:
    """The samples ``names`` asks for, from ``/metrics?name[]=...``."""
    query = urllib.parse.urlencode([("name[]", n) for n in names])
    # In the format the scraper asks for, as Prometheus would: the text format's first
    # scrape would cache every line a second time, and the peak memory measured with it.
    request = urllib.request.Request(f"{base}/metrics?{query}", headers={"Accept": OPENMETRICS})
    with urllib.request.urlopen(request, timeout=60) as response:
        text: str = response.read().decode()
    return text


def _labels(line: str) -> dict[str, str]:
    inside = line[line.index("{") + 1 : line.rindex("}")]
    pairs = [part.split("=", 1) for part in inside.split('",') if "=" in part]
    return {key: value.strip('"') for key, value in pairs}


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every sample named ``name`` (label values without commas)."""
    found = []
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")):
            found.append((_labels(line) if "{" in line else {}, float(line.rsplit(" ", 1)[1])))
    return found


def series_by_collector(text: str) -> dict[str, int]:
    return {labels["collector"]: int(value) for labels, value in samples(text, SERIES)}


@dataclass(frozen=True)
class Lag:
    """How late one collector's scheduled polls started between two readings."""

    polls: int
    late: int  # later than LATE of their interval
    worst: str  # the upper bound of the highest bucket with a poll in it ("+Inf" past all)

    def cell(self) -> str:
        return f"{self.late} of {self.polls}, worst ≤ {self.worst}" if self.polls else "none"


def lag_counts(text: str) -> dict[str, dict[str, float]]:
    """Per collector: cumulative count by bucket bound (``le``), and "count"."""
    found: dict[str, dict[str, float]] = {}
    for labels, value in samples(text, f"{LAG}_bucket"):
        found.setdefault(labels["collector"], {})[labels["le"]] = value
    for labels, value in samples(text, f"{LAG}_count"):
        found.setdefault(labels["collector"], {})["count"] = value
    return found


def lags(before: str, after: str) -> dict[str, Lag]:
    """The lag of the polls made between two readings of the histogram, per collector."""
    old, new = lag_counts(before), lag_counts(after)
    found = {}
    for collector, counts in new.items():
        was = old.get(collector, {})
        delta = {le: count - was.get(le, 0.0) for le, count in counts.items()}
        polls = int(delta.get("count", 0))
        on_time = int(next((v for le, v in delta.items() if _bound(le) == LATE), polls))
        bounds = sorted((le for le in delta if le != "count"), key=_bound)
        worst = next((le for le in bounds if delta[le] >= polls), "+Inf")
        found[collector] = Lag(polls, polls - on_time, worst)
    return found


def _bound(le: str) -> float:
    return float("inf") if le in ("+Inf", "count") else float(le)


def interval_seconds(interval: str, default: float | None, poll_interval: float) -> float:
    """A collector's interval in the run: the one given, or its own default."""
    from exporter.config import parse_duration

    if interval != "default":
        return float(parse_duration(interval))
    return default if default is not None else poll_interval


def formula_per_second(
    targets: int, memberships: int, names: tuple[str, ...], interval: str
) -> dict[str, float]:
    """Calls a second each collector's formula asks for: a round per its interval."""
    from exporter.collectors import BY_NAME
    from exporter.config.settings import Config

    poll_interval = Config().poll_interval
    rates = {}
    for name in names:
        spec = BY_NAME[name]
        seconds = interval_seconds(interval, spec.polling.default_interval, poll_interval)
        rates[name] = spec.polling.calls.minimum(memberships) * targets / seconds
    return rates
