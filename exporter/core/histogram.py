"""One histogram value: per-bucket counts under fixed upper bounds, their sum and count."""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Histogram:
    """Per-bucket (not cumulative) counts, one slot per bound plus +Inf; sum and count."""

    bounds: tuple[float, ...]
    buckets: tuple[int, ...]
    total: float = 0.0
    count: int = 0

    @classmethod
    def empty(cls, bounds: tuple[float, ...]) -> Histogram:
        return cls(bounds, (0,) * (len(bounds) + 1))

    def add(self, value: float) -> Histogram:
        slots = list(self.buckets)
        slots[bisect.bisect_left(self.bounds, value)] += 1
        return Histogram(self.bounds, tuple(slots), self.total + value, self.count + 1)

    def merged(self, other: Histogram) -> Histogram:
        """The sum of two histograms of the same bounds."""
        buckets = tuple(a + b for a, b in zip(self.buckets, other.buckets, strict=True))
        return Histogram(self.bounds, buckets, self.total + other.total, self.count + other.count)

    def cumulative(self) -> list[tuple[str, float]]:
        """(upper bound as the exposition writes it, cumulative count), ending with +Inf."""
        out: list[tuple[str, float]] = []
        running = 0
        for bound, number in zip(self.bounds, self.buckets, strict=False):
            running += number
            out.append((repr(bound), running))
        out.append(("+Inf", running + self.buckets[-1]))
        return out
