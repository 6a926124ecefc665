"""Metric families as collectors declare them: name, type, help and labels, no client library.

A collector declares its families once (``Family``) and adds one target's samples to a
``Samples`` sink; ``exporter.metrics`` turns both into prometheus_client families. So a poll
process never loads the client library, a family's help text says when it is computed
without anyone remembering to, and the docs and series budgets read the same declaration.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
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
# How a family's series fold into fewer when a collector's detail level drops labels:
# summed (counts, counters, histograms), the largest or smallest kept (ages: the oldest;
# a soonest expiry), or dropped (info, timestamps, ratios, budgets: not summable).
Fold = Literal["sum", "max", "min", "drop"]
# A collector's detail levels, finest first: what its series are kept per. Each coarser
# level drops more labels: per-item labels, then membership_id, then collaboration_id.
DETAILS = ("item", "membership", "collaboration", "target")
SCOPES = {"membership": "membership_id", "collaboration": "collaboration_id"}
_ITEM_SUFFIXES = ("_id", "_arn", "_name")
_UNSUMMABLE = ("_timestamp_seconds", "_ratio", "_info")
# A histogram's value: cumulative (upper bound, count) pairs ending with +Inf, and the sum.
HistogramValue = tuple[Sequence[tuple[str, float]], float]
SampleValue = float | Mapping[str, str] | HistogramValue


def label(value: str) -> str:
    """A safe label value: valid UTF-8 (lone surrogates replaced) and at most 256 characters."""
    safe = value.encode("utf-8", "replace").decode("utf-8")
    if len(safe) > LABEL_VALUE_LIMIT:
        return safe[: LABEL_VALUE_LIMIT - 1] + "\u2026"
    return safe


def exposed_name(name: str, kind: str) -> str:
    """A family's name as Prometheus stores its series: ``_total`` on counters, ``_info``."""
    return name + {"counter": "_total", "info": "_info"}.get(kind, "")


@cache
def _family_filter(allow: tuple[str, ...], deny: tuple[str, ...]) -> Callable[[str], bool]:
    """Whether a name fully matches an allow pattern (any, when none) and no deny pattern."""
    allowed = re.compile("|".join(f"(?:{p})" for p in allow)) if allow else None
    denied = re.compile("|".join(f"(?:{p})" for p in deny)) if deny else None

    def exports(name: str) -> bool:
        if denied is not None and denied.fullmatch(name):
            return False
        return allowed is None or allowed.fullmatch(name) is not None

    return cache(exports)


@dataclass(frozen=True)
class OutputSettings:
    """Top-level settings that shape what collectors export (not what they poll)."""

    trusted_creator_accounts: tuple[str, ...] = ()
    per_collaboration_metrics: bool = True
    # Families exported (regular expressions matching a whole exposed name; none: all),
    # and families not exported, which wins (kube-state-metrics' allow and deny lists).
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    # (collector, detail level) of each collector whose detail is not the finest, "item".
    detail: tuple[tuple[str, str], ...] = ()

    def detail_of(self, collector: str) -> str:
        """The collector's detail level (``DETAILS``)."""
        return dict(self.detail).get(collector, DETAILS[0])

    @property
    def trusted(self) -> tuple[str, ...] | None:
        """The allow-list, or None when none is set (then no untrusted series is exported)."""
        return self.trusted_creator_accounts or None

    def exports(self, name: str) -> bool:
        """Whether the family of this exposed name passes the allow and deny lists."""
        return _family_filter(self.allow, self.deny)(name)


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
    # How its series fold at a coarser detail (``folding``); None: from its type and name.
    fold: Fold | None = None
    # Its labels that name one item (a table, a budget's resource); None: ``item_labels``.
    items: tuple[str, ...] | None = None
    # Labels whose every value is always exported (documented statuses, at 0 when none),
    # with those values: the series budget (docs/metrics.md) multiplies by them.
    values: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def folding(self) -> Fold:
        """How its series fold: as declared, else counters and histograms sum; info,
        ``_timestamp_seconds`` and ``_ratio`` gauges drop; ``_age_seconds`` keep the max
        (the oldest); any other gauge is a count (Prometheus counts have no unit) and sums.
        """
        if self.fold is not None:
            return self.fold
        if self.type in ("counter", "histogram"):
            return "sum"
        if self.type == "info" or self.name.endswith(_UNSUMMABLE):
            return "drop"
        return "max" if self.name.endswith("_age_seconds") else "sum"

    def dropped_labels(self, detail: str) -> tuple[str, ...]:
        """Its labels a collector's ``detail`` level leaves out, in order."""
        return dropped_labels(self.labels, self.items, detail)

    def help(self, polled: str) -> str:
        """The whole help text: counters are counted as polls go, the rest ``polled``."""
        return f"{self.doc} {COUNTED if self.type == 'counter' else polled}"

    @property
    def exposed(self) -> str:
        """The name a sample line starts with (the library's suffix included)."""
        return exposed_name(self.name, self.type)


def item_labels(labels: Sequence[str]) -> tuple[str, ...]:
    """The labels that name one item: ``name`` and those ending in ``_id``, ``_arn`` or
    ``_name``, except ``membership_id`` and ``collaboration_id`` (detail levels of their own).
    """
    scopes = set(SCOPES.values())
    return tuple(
        name
        for name in labels
        if name not in scopes and (name == "name" or name.endswith(_ITEM_SUFFIXES))
    )


def dropped_labels(
    labels: Sequence[str], items: Sequence[str] | None, detail: str
) -> tuple[str, ...]:
    """The labels a detail level leaves out: per-item ones below ``item``, then the scopes."""
    level = DETAILS.index(detail)
    gone = set(item_labels(labels) if items is None else items) if level >= 1 else set()
    gone |= {label for scope, label in SCOPES.items() if level > DETAILS.index(scope)}
    return tuple(name for name in labels if name in gone)


def gauge(name: str, doc: str, *labels: str, **kwargs: Any) -> Family:
    return Family(name, "gauge", doc, labels, **kwargs)


def counter(name: str, doc: str, *labels: str, **kwargs: Any) -> Family:
    return Family(name, "counter", doc, labels, **kwargs)


class Samples(Protocol):
    """Where a collector adds one target's samples; the target's labels are prepended."""

    def add(self, family: Family, labels: Sequence[str], value: SampleValue) -> None: ...
