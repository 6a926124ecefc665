"""Metric families as collectors declare them: name, type, help and labels, no client library.

A collector declares its families once (``Family``) and adds one target's samples to a
``Samples`` sink; ``exporter.metrics`` turns both into prometheus_client families. So a poll
process never loads the client library, a family's help text says when it is computed
without anyone remembering to, and the docs and series budgets read the same declaration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

LABEL_VALUE_LIMIT = 256  # characters; AWS names are user input and may be huge
POLLED = "Polled in the background every poll_interval, not at scrape time."
# The other collectors poll on their own interval.
COLLECTOR_POLLED = "Polled in the background on the collector's own interval, not at scrape time."
# Families whose value grows with the clock between polls: ages, staleness.
SCRAPE_TIME = "Computed at scrape time from the last good poll."
COUNTED = "Counted by the background poller."
TARGET_LABELS = ("account_id", "region")

FamilyType = Literal["gauge", "counter", "info", "histogram"]
# A histogram's value: cumulative (upper bound, count) pairs ending with +Inf, and the sum.
HistogramValue = tuple[Sequence[tuple[str, float]], float]
SampleValue = float | Mapping[str, str] | HistogramValue


def label(value: str) -> str:
    """A safe label value: valid UTF-8 (lone surrogates replaced) and at most 256 characters."""
    safe = value.encode("utf-8", "replace").decode("utf-8")
    if len(safe) > LABEL_VALUE_LIMIT:
        return safe[: LABEL_VALUE_LIMIT - 1] + "\u2026"
    return safe


@dataclass(frozen=True)
class OutputSettings:
    """Top-level settings that shape what collectors export (not what they poll)."""

    trusted_creator_accounts: tuple[str, ...] = ()
    per_collaboration_metrics: bool = True

    @property
    def trusted(self) -> tuple[str, ...] | None:
        """The allow-list, or None when none is set (then no untrusted series is exported)."""
        return self.trusted_creator_accounts or None


def _always(_: OutputSettings) -> bool:
    return True


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: sinks key on it
class Family:
    """One metric family a collector exports.

    ``name`` is the family's name without ``_total`` or ``_info`` (the library adds them);
    ``doc`` the help text without its last sentence, which says when the value is computed
    and follows from the type and the collector. ``labels`` come after ``account_id`` and
    ``region``, which every collector series carries; an info family's value labels are
    ``info``. ``when`` leaves the family out under some settings.
    """

    name: str
    type: FamilyType
    doc: str
    labels: tuple[str, ...] = ()
    info: tuple[str, ...] = ()
    when: Callable[[OutputSettings], bool] = _always

    def help(self, polled: str) -> str:
        """The whole help text: counters are counted as polls go, the rest ``polled``."""
        return f"{self.doc} {COUNTED if self.type == 'counter' else polled}"

    @property
    def exposed(self) -> str:
        """The name a sample line starts with (the library's suffix included)."""
        suffix = {"counter": "_total", "info": "_info"}.get(self.type, "")
        return self.name + suffix


def gauge(name: str, doc: str, *labels: str, **kwargs: Any) -> Family:
    return Family(name, "gauge", doc, labels, **kwargs)


def counter(name: str, doc: str, *labels: str, **kwargs: Any) -> Family:
    return Family(name, "counter", doc, labels, **kwargs)


class Samples(Protocol):
    """Where a collector adds one target's samples; the target's labels are prepended."""

    def add(self, family: Family, labels: Sequence[str], value: SampleValue) -> None: ...
