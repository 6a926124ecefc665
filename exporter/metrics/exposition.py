"""Render /metrics cheaply: each (collector, target)'s lines are rendered once per poll and reused.

A collector's data and health series of one target change only when its state
object is replaced (once per poll), and a target's API counters only when its
tally object is replaced; both are immutable, so identity says whether cached
lines are still good. When a poll changed values but not series (most do), the new
lines are the old ones' bytes up to each value plus the new value (``lines.py``).
Per scrape, only what depends on the clock (ages, staleness) and the small global
families are formatted. Every byte is still the library's own formatting: the output
equals ``generate_latest`` of the collector, which the tests check. While it renders,
polls hold their next requests back (``core/gate.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from exporter.collectors.base import AgeSpec, CollectorSpec, TargetData
from exporter.core.gate import ScrapeGate
from exporter.core.model import CollectorState, Target, TargetKey
from exporter.core.series import OutputSettings
from exporter.core.stats import TargetApiCounts
from exporter.metrics import builtin, declared, health
from exporter.metrics.lines import EOF as _EOF
from exporter.metrics.lines import (
    Encoder,
    LineTemplate,
    go_float,
    reformat,
    split_lines,
    with_value,
)
from exporter.metrics.lines import render as _render
from exporter.metrics.lines import samples_by_family as _samples_by_family
from exporter.metrics.scrape import ScrapeView, Sections, SnapshotMetrics


@dataclass(frozen=True)
class _ApiLines:
    counts: TargetApiCounts | None
    operations: tuple[str, ...]
    lines: list[bytes]
    shape: LineTemplate | None  # to re-format the next counts' lines when the series are the same


@dataclass(frozen=True)
class _HealthLines:
    """One (collector, target)'s health lines; they follow the state."""

    state: CollectorState[Any]
    lines: list[bytes]
    stale: tuple[bytes, bytes]  # its stale line when fresh, when stale
    series: tuple[Any, ...]  # what its labels depend on (``_health_series``)


@dataclass(frozen=True)
class _DataLines:
    """One (collector, target)'s data lines, and its age lines cut before their values."""

    data: Any
    parent: Any  # the data of the collector it fans out from, which shaped the lines
    output: OutputSettings
    lines: list[bytes]  # one entry per data family
    ages: list[list[tuple[bytes, float | None]]]  # per age family: (line prefix, timestamp)
    shape: LineTemplate | None

    def age_lines(self, index: int, now: float) -> bytes:
        return b"".join(
            prefix + go_float(max(0.0, now - first) if first else 0.0).encode() + b"\n"
            for prefix, first in self.ages[index]
        )


class _FormatCache:
    """Cached lines for one exposition format."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.accounts: dict[TargetKey, tuple[Target, bytes]] = {}
        self.quotas: dict[TargetKey, tuple[Target, Mapping[str, float] | None, bytes]] = {}
        self.api: dict[TargetKey, _ApiLines] = {}
        # Per kind of health (its prefix): the primary collector has both kinds.
        self.health: dict[str, dict[tuple[str, TargetKey], _HealthLines]] = {}
        self.data: dict[tuple[str, TargetKey], _DataLines] = {}

    def account(self, target: Target) -> bytes:
        """The target's account's cleanrooms_account_info line."""
        cached = self.accounts.get(target.key)
        if cached is not None and cached[0] == target:
            return cached[1]
        (line,) = _samples_by_family(self.encoder, [builtin.account_info([target])])
        self.accounts[target.key] = (target, line)  # a racing scrape may do the same work
        return line

    def quota(self, target: Target, applied: Mapping[str, float] | None) -> bytes:
        """The target's cleanrooms_quota_limit lines; they change with its configuration and
        with the quotas Service Quotas applies to it."""
        cached = self.quotas.get(target.key)
        if cached is not None and cached[0] == target and cached[1] == applied:
            return cached[2]
        family = builtin.quota_limits([target], {target.key: applied} if applied else None)
        (lines,) = _samples_by_family(self.encoder, [family])
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
        self.api[key] = _ApiLines(counts, operations, lines, shape)
        return lines

    def health_lines(self, kind: health.Health, row: health.HealthRow) -> _HealthLines:
        name, state, _ = row
        job = (name, state.target.key)
        cache = self.health.setdefault(kind.prefix, {})
        cached = cache.get(job)
        if cached is not None and cached.state is state:
            return cached
        series = _health_series(kind, name, state)
        if cached is not None and cached.series == series:
            lines = _with_new_values(kind, cached.lines, state)
            built = _HealthLines(state, lines, cached.stale, series)
        else:
            *lines, fresh, stale = _samples_by_family(
                self.encoder,
                [
                    *health.health_families(kind, [(name, state, False)]),
                    health.stale_family(kind, [(name, state, False)]),
                    health.stale_family(kind, [(name, state, True)]),
                ],
            )
            built = _HealthLines(state, lines, (fresh, stale), series)
        cache[job] = built
        return built

    def data_lines(
        self, spec: CollectorSpec[Any], item: TargetData[Any], output: OutputSettings
    ) -> _DataLines:
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
        built_families = declared.families(spec, [item], output)
        lines, shape = reformat(self.encoder, built_families, previous)
        ages = [self._age_prefixes(age, item) for age in spec.rendering.ages]
        built = _DataLines(item.data, item.parent, output, lines, ages, shape)
        self.data[job] = built
        return built

    def _age_prefixes(
        self, age: AgeSpec[Any], item: TargetData[Any]
    ) -> list[tuple[bytes, float | None]]:
        # Rendered at value 0 (now=0 clamps every age), then cut before each value.
        (block,) = _samples_by_family(self.encoder, [declared.age_family(age, [item], 0.0)])
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


class ExpositionRenderer:
    """Renders the snapshot's metrics (plus small extra collectors) for one Accept header."""

    def __init__(
        self,
        metrics: SnapshotMetrics,
        extra: Sequence[Collector] = (),
        gate: ScrapeGate | None = None,
    ) -> None:
        self._metrics = metrics
        self._extra = extra
        self._gate = gate or ScrapeGate()  # closed while this renders: polls step aside
        self._formats: dict[str, _FormatCache] = {}

    def render(self, accept: str, *, hold_polls: bool = True) -> tuple[bytes, str]:
        """The exposition for an Accept header; polls wait while it renders (a scrape's)."""
        encoder, content_type = choose_encoder(accept)
        cache = self._formats.get(content_type)
        if cache is None:
            cache = self._formats.setdefault(content_type, _FormatCache(encoder))
        # The warm-up (hold_polls=False) has no scraper waiting: polls need not wait for it.
        with self._gate.scraping() if hold_polls else nullcontext():
            view = self._metrics.view()
            body = b"".join(_CachedSections(cache, self._extra).sections(view))
            _prune(cache, view)
        if content_type.startswith("application/openmetrics-text"):
            body += _EOF
        return body, content_type


def _prune(cache: _FormatCache, view: ScrapeView) -> None:
    cache.prune(set(view.keys) | set(view.api.targets))
    cache.prune_jobs(
        {(name, s.target.key) for name, states in view.collectors.items() for s in states}
    )


class _CachedSections(Sections[bytes]):
    """The exposition's sections from cached lines: headers, then each job's lines."""

    def __init__(self, cache: _FormatCache, extra: Sequence[Collector]) -> None:
        self.cache = cache
        self.extra = extra

    def collector_data(self, view: ScrapeView, spec: CollectorSpec[Any]) -> list[bytes]:
        return _flat(self._data_sections(view, spec))

    def _data_sections(self, view: ScrapeView, spec: CollectorSpec[Any]) -> list[Section]:
        """(family name, header and sample lines) of each of the collector's families."""
        output = view.settings.output
        encoder = self.cache.encoder
        lines = [self.cache.data_lines(spec, item, output) for item in view.fresh_inputs(spec)]
        sections = [
            (metric.name, _section(encoder, metric, [d.lines[i] for d in lines]))
            for i, metric in enumerate(declared.families(spec, [], output))
        ]
        for index, age in enumerate(spec.rendering.ages):
            empty = declared.age_family(age, [], 0.0)
            ages = [d.age_lines(index, view.now) for d in lines]
            sections.append((empty.name, _section(encoder, empty, ages)))
        return sections

    def accounts(self, view: ScrapeView) -> list[bytes]:
        lines = _first_of_each_account(self.cache, view)
        return _section(self.cache.encoder, builtin.account_info([]), lines)

    def quotas(self, view: ScrapeView) -> list[bytes]:
        applied = view.applied_quotas()
        quotas = [self.cache.quota(s.target, applied.get(s.target.key)) for s in view.states]
        return _section(self.cache.encoder, builtin.quota_limits([]), quotas)

    def health(
        self, view: ScrapeView, kind: health.Health, rows: list[health.HealthRow]
    ) -> list[bytes]:
        encoder = self.cache.encoder
        built = [self.cache.health_lines(kind, row) for row in rows]
        parts = _sections(
            encoder, health.health_families(kind, []), lambda i: [h.lines[i] for h in built]
        )
        stale = [h.stale[is_stale] for h, (_, _, is_stale) in zip(built, rows, strict=True)]
        parts += _section(encoder, health.stale_family(kind, []), stale)
        return parts

    def other_collectors(self, view: ScrapeView) -> list[bytes]:
        return _flat(_merged(s for spec in view.others for s in self._data_sections(view, spec)))

    def api(self, view: ScrapeView) -> list[bytes]:
        api_keys = sorted({*view.keys, *view.api.targets})
        operations = view.settings.operations
        per_key = [self.cache.api_lines(k, view.api.targets.get(k), operations) for k in api_keys]
        return _sections(
            self.cache.encoder, builtin.api_families({}, []), lambda i: [p[i] for p in per_key]
        )

    def tail(self, view: ScrapeView) -> list[bytes]:
        tail = [builtin.duration_family(view.api), *builtin.exporter_families(len(view.keys))]
        tail += [m for c in self.extra for m in c.collect()]
        return [_render(self.cache.encoder, tail)]


def _first_of_each_account(cache: _FormatCache, view: ScrapeView) -> list[bytes]:
    # States are sorted, so an account's first target is the one the library's dedup keeps.
    seen: set[str] = set()
    out: list[bytes] = []
    for state in view.states:
        if state.target.account_id not in seen:
            seen.add(state.target.account_id)
            out.append(cache.account(state.target))
    return out


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


Section = tuple[str, list[bytes]]  # a family's name, then its header and sample lines


def _merged(sections: Iterable[Section]) -> list[Section]:
    """Families several collectors share (the details backlog) as one: first place, all lines."""
    by_name: dict[str, list[bytes]] = {}
    for name, parts in sections:
        if name in by_name:
            by_name[name] += parts[1:]  # the same header: keep the first
        else:
            by_name[name] = list(parts)
    return list(by_name.items())


def _flat(sections: Iterable[Section]) -> list[bytes]:
    return [part for _, parts in sections for part in parts]


def _section(encoder: Encoder, empty: Metric, samples: list[bytes]) -> list[bytes]:
    """One family's HELP/TYPE header followed by its cached sample lines."""
    return [_render(encoder, [empty]), *samples]


def _sections(
    encoder: Encoder, empty: Sequence[Metric], samples: Callable[[int], list[bytes]]
) -> list[bytes]:
    """Several families: each header, then ``samples(i)`` for the i-th family."""
    parts: list[bytes] = []
    for index, metric in enumerate(empty):
        parts += _section(encoder, metric, samples(index))
    return parts
