"""A collector's series folded to its detail level: fewer labels, values combined.

At a coarser ``detail`` (``collectors.NAME.detail``) a family loses its per-item labels,
then ``membership_id``, then ``collaboration_id`` (``core.series.dropped_labels``); the
samples that now share their labels are combined as the family declares
(``Family.folding``): summed, the largest or smallest kept, or the family dropped. Ages keep
the oldest. A family that has none of the dropped labels is exported as it is.

A folded counter is a new series (fewer labels), and stays monotonic: ``CounterCarry`` adds
each contributor's increase since the last data it saw, so a membership that leaves takes
its count with it into the folded total instead of making the total fall.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

from exporter.collectors.base import AgeSpec, TargetData
from exporter.core.series import Family, Fold, HistogramValue, SampleValue, dropped_labels

Labels = tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """How one family folds at one detail level: the labels kept, and how values combine."""

    family: Family  # as exported: the declared one, or a copy with fewer labels
    keep: tuple[int, ...]  # positions of the kept labels among the declared ones
    how: Fold
    folds: bool  # some labels are dropped: samples are grouped before they are added


def merges(labels: tuple[str, ...], dropped: tuple[str, ...]) -> bool:
    """Whether leaving out ``dropped`` makes several series one.

    A target's member account has one membership per collaboration: leaving out
    ``membership_id`` where ``collaboration_id`` stays only relabels.
    """
    return any(name != "membership_id" or "collaboration_id" not in labels for name in dropped)


def plan(family: Family, detail: str) -> Plan | None:
    """The family's plan at ``detail``; None when it is dropped there.

    Info families and those that fold by ``drop`` are left out where series would merge,
    and only relabelled where they would not.
    """
    dropped = family.dropped_labels(detail)
    if not dropped:
        return Plan(family, tuple(range(len(family.labels))), family.folding, False)
    how = "drop" if family.type == "info" else family.folding
    if how == "drop" and merges(family.labels, dropped):
        return None
    keep = tuple(i for i, name in enumerate(family.labels) if name not in dropped)
    labels = tuple(family.labels[i] for i in keep)
    return Plan(replace(family, labels=labels), keep, how, True)


def combine(how: Fold, old: SampleValue, new: SampleValue) -> SampleValue:
    """Two samples that fold into one series."""
    if isinstance(old, tuple):  # a histogram: cumulative buckets and the sum, added up
        (a_buckets, a_sum), (b_buckets, b_sum) = old, cast(HistogramValue, new)
        buckets = [(le, a + b) for (le, a), (_, b) in zip(a_buckets, b_buckets, strict=True)]
        return buckets, a_sum + b_sum
    a, b = cast(float, old), cast(float, new)
    if how == "max":
        return max(a, b)
    if how == "min":
        return min(a, b)
    return a + b


def folded_age(age: AgeSpec[Any], detail: str) -> AgeSpec[Any]:
    """The age at ``detail``: the oldest (earliest start) of the points that fold together."""
    dropped = dropped_labels(age.labels, age.items, detail)
    if not dropped:
        return age
    keep = [i for i, name in enumerate(age.labels) if name not in dropped]
    points = age.points

    def oldest(item: TargetData[Any]) -> list[tuple[Labels, float | None]]:
        found: dict[Labels, float | None] = {}
        for labels, first in points(item):
            key = tuple(labels[i] for i in keep)
            known = found.get(key)
            if key not in found or (first is not None and (known is None or first < known)):
                found[key] = first
        return list(found.items())

    return replace(age, labels=tuple(age.labels[i] for i in keep), points=oldest)


@dataclass
class _Counted:
    """One folded counter of one job: what it last saw of each contributor, what it showed."""

    source: tuple[Any, Any]  # the (data, parent) it last advanced with, compared by identity
    last: dict[Labels, float] = field(default_factory=dict)  # by the declared labels
    shown: dict[Labels, float] = field(default_factory=dict)  # by the folded labels


CarryKey = tuple[str, Any, str, str]  # (collector, target, family, detail)


class CounterCarry:
    """Keeps folded counters monotonic across polls, shared by every renderer of one exporter.

    Advancing is idempotent per data object: the library's rendering and the cached one
    may both fold the same poll's data, in any order, and show the same values.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counted: dict[CarryKey, _Counted] = {}

    def advance(
        self,
        key: CarryKey,
        source: tuple[Any, Any],
        parts: Mapping[Labels, Mapping[Labels, float]],
    ) -> dict[Labels, float]:
        """The folded values for ``parts`` (folded labels -> declared labels -> value)."""
        with self._lock:
            before = self._counted.get(key)
            same = before is not None and all(
                a is b for a, b in zip(before.source, source, strict=True)
            )
            if before is not None and same:
                return {k: before.shown.get(k, 0.0) for k in parts}
            shown = {k: _total(before, k, found) for k, found in parts.items()}
            last = {full: value for found in parts.values() for full, value in found.items()}
            self._counted[key] = _Counted(source, last, shown)
            return shown

    def prune(self, keep: Callable[[CarryKey], bool]) -> None:
        """Forget the counters of jobs no longer configured."""
        with self._lock:
            for key in [k for k in self._counted if not keep(k)]:
                del self._counted[key]


def _total(before: _Counted | None, key: Labels, found: Mapping[Labels, float]) -> float:
    """A folded counter's next value: each contributor's increase since it was last seen.

    A series new to the fold starts at the sum (a new series' first value); a contributor
    new to an existing series adds its whole count; one whose count fell was reset, so its
    count is its increase; one that left adds nothing more, and nothing it counted is lost.
    """
    if before is None or key not in before.shown:
        return sum(found.values())
    grown = 0.0
    for full, value in found.items():
        was = before.last.get(full, 0.0)
        grown += value - was if value >= was else value
    return before.shown[key] + grown
