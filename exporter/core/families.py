"""The small metric-family helpers every collector uses: safe label values, gauges, counters."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

LABEL_VALUE_LIMIT = 256  # characters; AWS names are user input and may be huge
POLLED = "Polled in the background every poll_interval, not at scrape time."
# The other collectors poll on their own interval.
COLLECTOR_POLLED = "Polled in the background on the collector's own interval, not at scrape time."
# Families whose value grows with the clock between polls: ages, staleness.
SCRAPE_TIME = "Computed at scrape time from the last good poll."
TARGET_LABELS = ("account_id", "region")


def label(value: str) -> str:
    """A safe label value: valid UTF-8 (lone surrogates replaced) and at most 256 characters."""
    safe = value.encode("utf-8", "replace").decode("utf-8")
    if len(safe) > LABEL_VALUE_LIMIT:
        return safe[: LABEL_VALUE_LIMIT - 1] + "\u2026"
    return safe


def gauge(
    name: str, doc: str, labels: tuple[str, ...] = TARGET_LABELS, polled: str = POLLED
) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, f"{doc} {polled}", labels=list(labels))


def counter(name: str, doc: str, labels: tuple[str, ...] = TARGET_LABELS) -> CounterMetricFamily:
    return CounterMetricFamily(
        name, f"{doc} Counted by the background poller.", labels=list(labels)
    )
