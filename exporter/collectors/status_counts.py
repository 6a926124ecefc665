"""Counting by status, written once: what every listing collector does with what it lists.

``tally`` gives, from one listing: counts by status with every documented status present
(at 0) and unknown ones kept; the oldest item in progress; and a counter of the items seen
in a status counted once (failed, or finished), carried from the previous tally:

- the first tally (no previous one) is a baseline that counts nothing, so a counter starts
  at 0 as any counter does after a restart, and ``increase()`` sees no burst of old items;
- after that an id is counted the first time a listing shows it in such a status, once;
- a whole listing (``window_start`` None) remembers the ids it still lists; a windowed one
  (newest first, down to ``window_start``) remembers those created within the window and
  counts only those created within the window the previous listing covered, so a wider
  window after a reload, or the wall clock stepping back, never counts one twice.

``StatusFamilies`` turns a tally into samples of the families every such collector exports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from exporter.collectors.base import AgeSpec, TargetData, epoch_seconds
from exporter.core.series import Family, Samples, label

_EMPTY: Mapping[str, Any] = MappingProxyType({})
K = TypeVar("K", bound=tuple[str, ...])


@dataclass(frozen=True)
class StatusRules:
    """The statuses of one kind of item: documented, counted once, in progress."""

    statuses: tuple[str, ...]  # every status the API documents: always exported
    once: tuple[str, ...] = ()  # each id counted once when first seen in one of these
    in_progress: tuple[str, ...] = ()  # the oldest of these is aged


@dataclass(frozen=True, slots=True)
class Item:
    """What a tally needs of one listed item, and the summary members its collector keeps."""

    id: str
    status: str
    created: float  # createTime, Unix seconds
    fields: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class Tally:
    """One listing counted by status, and what carries to the next tally."""

    counts: Mapping[str, int]
    oldest_in_progress: float | None  # createTime of the oldest in progress
    in_progress: int
    once: Mapping[str, int]  # items counted once, by status, since the baseline
    seen: Mapping[str, float]  # ids seen in a counted-once status -> createTime
    # Where a windowed listing stopped. Not compared: it moves with every poll, and a poll
    # that found nothing new keeps the previous (equal) data object, so that the renderer's
    # cache and the workers' messages see "unchanged" by identity. The older start it keeps
    # is as good: an item created between it and the newer one was listed by the older poll,
    # so the polls since found it counted (seen) or saw it leave the window.
    window_start: float | None = field(default=None, compare=False)

    @property
    def once_total(self) -> int:
        return sum(self.once.values())


def count(rules: StatusRules, statuses: Iterable[str]) -> dict[str, int]:
    """Counts by status, sorted: the documented ones present, unknown ones kept."""
    counts = dict.fromkeys(rules.statuses, 0)
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items()))


def tally(
    rules: StatusRules,
    items: Iterable[Item],
    old: Tally | None,
    window_start: float | None = None,
) -> Tally:
    """Counts, the oldest in progress, and the counted-once counter carried from ``old``."""
    by_id = {item.id: item for item in items}  # an id listed twice (paging race) counts once
    once = dict(old.once) if old is not None else dict.fromkeys(rules.once, 0)
    seen = _remembered(old, by_id, window_start)
    news_from = None if old is None else old.window_start
    for item in by_id.values():
        if item.status not in rules.once or item.id in seen:
            continue
        seen[item.id] = item.created
        # The first tally is a baseline; a windowed one counts only what the previous
        # window covered (older ones may have been counted and forgotten already).
        if old is not None and (news_from is None or item.created >= news_from):
            once[item.status] = once.get(item.status, 0) + 1
    running = [i.created for i in by_id.values() if i.status in rules.in_progress]
    return Tally(
        MappingProxyType(count(rules, (i.status for i in by_id.values()))),
        min(running, default=None),
        len(running),
        MappingProxyType(once),
        MappingProxyType(seen),
        window_start,
    )


def fresh(rules: StatusRules) -> Tally:
    """A tally that has seen nothing yet, past the baseline: what a group that first shows up
    after the first poll starts from, so that an item first seen failed in it is counted."""
    zero = MappingProxyType(dict.fromkeys(rules.once, 0))
    return Tally(MappingProxyType(count(rules, ())), None, 0, zero, _EMPTY)


def tally_groups(
    rules: StatusRules,
    grouped: Mapping[K, Iterable[Item]],
    old: Mapping[K, Tally] | None,
) -> dict[K, Tally]:
    """One whole listing tallied per group (creator and payer, say), each from its own old one.

    With ``old`` None (the first poll) every group is a baseline. After it, a group new
    since the last poll starts ``fresh`` (its failures count), and a group no longer listed
    keeps its counted-once counter, at zero counts: a counter never falls.
    """
    keys = sorted({*grouped, *(old or {})})
    if old is None:
        return {key: tally(rules, grouped.get(key, ()), None) for key in keys}
    return {key: tally(rules, grouped.get(key, ()), old.get(key) or fresh(rules)) for key in keys}


def newly_counted(old: Tally | None, new: Tally) -> list[str]:
    """Ids that ``new`` (a whole listing's tally, carried from ``old``) counted once, sorted."""
    if old is None:
        return []  # the baseline counts nothing
    return sorted(i for i in new.seen if i not in old.seen)


def _remembered(
    old: Tally | None, listed: Mapping[str, Item], window_start: float | None
) -> dict[str, float]:
    if old is None:
        return {}
    if window_start is None:  # a whole listing: what it no longer lists is gone
        return {i: c for i, c in old.seen.items() if i in listed}
    return {i: c for i, c in old.seen.items() if c >= window_start}


def parse_item(summary: Any, id_key: str, keep: tuple[str, ...] = ()) -> Item | None:
    """One summary as an item, or None when its id, status or createTime is missing or bad.

    Only the members in ``keep`` are kept: whole summaries of 25 items per membership and
    kind took most of the exporter's memory at 1,500 memberships (docs/performance.md).
    """
    if not isinstance(summary, Mapping):
        return None
    found, status = summary.get(id_key), summary.get("status")
    created = epoch_seconds(summary.get("createTime"))
    if not (isinstance(found, str) and found and isinstance(status, str) and status):
        return None
    if created is None:
        return None
    kept = {k: summary[k] for k in keep if k in summary}
    return Item(found, status, created, MappingProxyType(kept) if kept else _EMPTY)


def parse_items(
    summaries: Iterable[Any], id_key: str, keep: tuple[str, ...] = ()
) -> tuple[list[Item], int]:
    """The well-formed items, and how many summaries were malformed."""
    parsed = [parse_item(s, id_key, keep) for s in summaries]
    found = [p for p in parsed if p is not None]
    return found, len(parsed) - len(found)


@dataclass(frozen=True)
class StatusFamilies:
    """The families one kind of item is counted in: by status, and counted once.

    ``once`` is by status when its last label is ``status``, else one total.
    """

    counts: Family
    once: Family | None = None

    @property
    def families(self) -> tuple[Family, ...]:
        return (self.counts,) if self.once is None else (self.counts, self.once)

    def add(self, out: Samples, labels: tuple[str, ...], found: Tally) -> None:
        for status, number in sorted(found.counts.items()):
            out.add(self.counts, (*labels, label(status)), number)
        if self.once is None:
            return
        if self.once.labels[-1:] == ("status",):
            for status, number in sorted(found.once.items()):
                out.add(self.once, (*labels, label(status)), number)
        else:
            out.add(self.once, labels, found.once_total)


Points = list[tuple[tuple[str, ...], float | None]]


def oldest_age(
    name: str,
    doc: str,
    labels: tuple[str, ...],
    tallies: Callable[[TargetData[Any]], Iterable[tuple[tuple[str, ...], Tally]]],
) -> AgeSpec[Any]:
    """The age of the oldest item in progress of each tally ``tallies`` yields."""

    def points(item: TargetData[Any]) -> Points:
        return [(key, found.oldest_in_progress) for key, found in tallies(item)]

    return AgeSpec(name, doc, labels, points)
