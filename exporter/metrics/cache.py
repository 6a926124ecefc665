"""The cached lines of one exposition format, per target and per (collector, target) job.

A collector's data and health series of one target change only when its state object is
replaced (once per poll), and a target's API counters only when its tally object is
replaced; both are immutable, so identity says whether cached lines are still good. When
a poll changed values but not series (most do), the new lines are the old ones' bytes up
to each value plus the new value (``lines.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exporter.collectors.base import AgeSpec, CollectorSpec, TargetData
from exporter.core.model import CollectorState, Target, TargetKey
from exporter.core.series import OutputSettings
from exporter.core.stats import TargetApiCounts
from exporter.metrics import builtin, declared, health
from exporter.metrics.folding import CounterCarry
from exporter.metrics.lines import (
    Encoder,
    LineTemplate,
    go_float,
    reformat,
    samples_by_family,
    split_lines,
    with_value,
)


@dataclass(frozen=True)
class ApiLines:
    counts: TargetApiCounts | None
    operations: tuple[str, ...]
    lines: list[bytes]
    shape: LineTemplate | None  # to re-format the next counts' lines when the series are the same


@dataclass(frozen=True)
class HealthLines:
    """One (collector, target)'s health lines; they follow the state."""

    state: CollectorState[Any]
    lines: list[bytes]
    stale: tuple[bytes, bytes]  # its stale line when fresh, when stale
    series: tuple[Any, ...]  # what its labels depend on (``_health_series``)


@dataclass(frozen=True)
class DataLines:
    """One (collector, target)'s data lines, and its age lines cut before their values."""

    data: Any
    parent: Any  # the data of the collector it fans out from, which shaped the lines
    output: OutputSettings
    lines: list[bytes]  # one entry per data family
    ages: list[list[tuple[bytes, float | None]]]  # per age family: (line prefix, timestamp)
    shape: LineTemplate | None
    counts: tuple[int, ...]  # sample lines of each data family

    def age_lines(self, index: int, now: float) -> bytes:
        return b"".join(
            prefix + go_float(max(0.0, now - first) if first else 0.0).encode() + b"\n"
            for prefix, first in self.ages[index]
        )


class FormatCache:
    """Cached lines for one exposition format."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.accounts: dict[TargetKey, tuple[Target, bytes]] = {}
        self.quotas: dict[TargetKey, tuple[Target, Mapping[str, float] | None, bytes]] = {}
        self.api: dict[TargetKey, ApiLines] = {}
        # Per kind of health (its prefix): the primary collector has both kinds.
        self.health: dict[str, dict[tuple[str, TargetKey], HealthLines]] = {}
        self.data: dict[tuple[str, TargetKey], DataLines] = {}

    def account(self, target: Target) -> bytes:
        """The target's account's cleanrooms_account_info line."""
        cached = self.accounts.get(target.key)
        if cached is not None and cached[0] == target:
            return cached[1]
        (line,) = samples_by_family(self.encoder, [builtin.account_info([target])])
        self.accounts[target.key] = (target, line)  # a racing scrape may do the same work
        return line

    def quota(self, target: Target, applied: Mapping[str, float] | None) -> bytes:
        """The target's cleanrooms_quota_limit lines; they change with its configuration and
        with the quotas Service Quotas applies to it."""
        cached = self.quotas.get(target.key)
        if cached is not None and cached[0] == target and cached[1] == applied:
            return cached[2]
        family = builtin.quota_limits([target], {target.key: applied} if applied else None)
        (lines,) = samples_by_family(self.encoder, [family])
        self.quotas[target.key] = (target, applied, lines)
        return lines

    def api_lines(
        self, key: TargetKey, counts: TargetApiCounts | None, operations: tuple[str, ...]
    ) -> list[bytes]:
        cached = self.api.get(key)
        if cached is not None and cached.counts is counts and cached.operations == operations:
            return cached.lines
        present = {key: counts} if counts is not None else {}
        built = builtin.api_families(present, [key], operations)
        lines, shape = reformat(self.encoder, built, cached.shape if cached else None)
        self.api[key] = ApiLines(counts, operations, lines, shape)
        return lines

    def health_lines(self, kind: health.Health, row: health.HealthRow) -> HealthLines:
        name, state, _ = row
        job = (name, state.target.key)
        cache = self.health.setdefault(kind.prefix, {})
        cached = cache.get(job)
        if cached is not None and cached.state is state:
            return cached
        series = _health_series(kind, name, state)
        if cached is not None and cached.series == series:
            lines = _with_new_values(kind, cached.lines, state)
            built = HealthLines(state, lines, cached.stale, series)
        else:
            *lines, fresh, stale = samples_by_family(
                self.encoder,
                [
                    *health.health_families(kind, [(name, state, False)]),
                    health.stale_family(kind, [(name, state, False)]),
                    health.stale_family(kind, [(name, state, True)]),
                ],
            )
            built = HealthLines(state, lines, (fresh, stale), series)
        cache[job] = built
        return built

    def data_lines(
        self,
        spec: CollectorSpec[Any],
        item: TargetData[Any],
        output: OutputSettings,
        carry: CounterCarry | None = None,
    ) -> DataLines:
        job = (spec.name, item.key)
        cached = self.data.get(job)
        if (
            cached is not None
            and cached.data is item.data
            and cached.parent is item.parent
            and cached.output == output  # equal after a reload that changed other settings
        ):
            return cached
        previous = cached.shape if cached is not None and cached.output == output else None
        built_families = declared.families(spec, [item], output, carry)
        lines, shape = reformat(self.encoder, built_families, previous)
        ages = [self._age_prefixes(age, item) for age in declared.ages(spec, output)]
        counts = tuple(block.count(b"\n") for block in lines)
        built = DataLines(item.data, item.parent, output, lines, ages, shape, counts)
        self.data[job] = built
        return built

    def _age_prefixes(
        self, age: AgeSpec[Any], item: TargetData[Any]
    ) -> list[tuple[bytes, float | None]]:
        # Rendered at value 0 (now=0 clamps every age), then cut before each value.
        (block,) = samples_by_family(self.encoder, [declared.age_family(age, [item], 0.0)])
        prefixes = [line.rsplit(b" ", 1)[0] + b" " for line in split_lines(block)]
        return list(zip(prefixes, (first for _, first in age.points(item)), strict=True))

    def prune(self, keep: set[TargetKey]) -> None:
        for cache in (self.accounts, self.quotas, self.api):
            if len(cache) > len(keep):
                # list() copies in one step; other scrapes may be adding entries meanwhile.
                for key in [k for k in list(cache) if k not in keep]:
                    cache.pop(key, None)

    def prune_jobs(self, keep: set[tuple[str, TargetKey]]) -> None:
        caches: list[dict[tuple[str, TargetKey], Any]] = [*list(self.health.values()), self.data]
        for jobs in caches:
            for job in [j for j in list(jobs) if j not in keep]:
                jobs.pop(job, None)


def _health_series(kind: health.Health, name: str, state: CollectorState[Any]) -> tuple[Any, ...]:
    """What a job's health labels depend on: the job and its error (when one is shown)."""
    error = state.last_error
    shown = (error.operation, error.code) if error is not None and not state.up else None
    return (tuple(kind.key(name, state)), shown)


def _with_new_values(
    kind: health.Health, lines: list[bytes], state: CollectorState[Any]
) -> list[bytes]:
    """The same health series with the state's values: one line per column, as before.

    The error line (value 1) is the same line while the series are; each column's line
    keeps its bytes up to the value, as the library wrote them.
    """
    return [
        line if column.is_error else with_value(line, column.value(state))
        for line, column in zip(lines, kind.columns, strict=True)
    ]
