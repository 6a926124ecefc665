"""Render /metrics cheaply: each target's lines are rendered once per poll and reused.

A target's collaboration and health series change only when its state object
is replaced (once per poll), and its API counters only when its tally object is
replaced; both are immutable, so identity says whether cached lines are still
good. Per scrape, only what depends on the clock (invitation ages, staleness)
and the small global families go through the library. Every byte is still the
library's own formatting: the output equals ``generate_latest`` of the
collector, which the tests check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from exporter.collectors import BY_NAME, collaborations
from exporter.collectors.base import AgeSpec, CollectorSpec, Fresh
from exporter.core.model import CollectorState, PollData, TargetKey, TargetState
from exporter.core.stats import TargetApiCounts
from exporter.metrics import families
from exporter.metrics import health as collector_families
from exporter.metrics.collector import CleanRoomsCollector, CollectorSettings, ScrapeView

Encoder = Callable[..., bytes]
_EOF = b"# EOF\n"
# The library's own number formatting (untyped upstream), so values match byte for byte.
_go_float = cast(Callable[[float], str], floatToGoString)
_NO_INVITATION = PollData(collaborations=(), counts={}, oldest_invitation=None)


class _Families:
    """The one method prometheus_client's encoders need from a registry."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterator[Metric]:
        return iter(self._metrics)


def _render(encoder: Encoder, metrics: Iterable[Metric]) -> bytes:
    """Whole families with their HELP/TYPE lines, without OpenMetrics' closing EOF."""
    text: bytes = encoder(_Families(metrics))
    return text.removesuffix(_EOF)


def _samples_by_family(encoder: Encoder, metrics: Sequence[Metric]) -> list[bytes]:
    """The sample lines of each family (no comment lines), in the order given."""
    blocks: list[list[bytes]] = []
    for line in _render(encoder, metrics).splitlines(keepends=True):
        if line.startswith(b"# HELP "):
            blocks.append([])
        elif not line.startswith(b"# "):
            blocks[-1].append(line)
    if len(blocks) != len(metrics):
        raise RuntimeError("unexpected exposition layout")  # a library change; fail loudly
    return [b"".join(block) for block in blocks]


@dataclass(frozen=True)
class _TargetLines:
    state: TargetState
    settings: CollectorSettings
    data: list[bytes]  # one entry per data family, empty when the target has no data
    health: list[bytes]
    account: bytes  # its account's cleanrooms_account_info line
    stale: tuple[bytes, bytes]  # its cleanrooms_target_stale line when fresh, when stale
    age_prefix: bytes  # its age line up to the value, which changes every scrape

    def age(self, now: float) -> bytes:
        data = self.state.data
        first = data.oldest_invitation if data is not None else None
        value = max(0.0, now - first) if first else 0.0
        return self.age_prefix + _go_float(value).encode() + b"\n"


@dataclass(frozen=True)
class _ApiLines:
    counts: TargetApiCounts | None
    operations: tuple[str, ...]
    lines: list[bytes]


@dataclass(frozen=True)
class _HealthLines:
    """One (collector, target)'s ``cleanrooms_collector_*`` lines; they follow the state."""

    state: CollectorState[Any]
    lines: list[bytes]
    stale: tuple[bytes, bytes]  # its stale line when fresh, when stale


@dataclass(frozen=True)
class _DataLines:
    """One (collector, target)'s data lines, and its age lines cut before their values."""

    state: CollectorState[Any]
    collaborations: PollData | None  # whose ACTIVE ids filtered the lines
    lines: list[bytes]  # one entry per data family
    ages: list[list[tuple[bytes, float | None]]]  # per age family: (line prefix, timestamp)

    def age_lines(self, index: int, now: float) -> bytes:
        return b"".join(
            prefix + _go_float(max(0.0, now - first) if first else 0.0).encode() + b"\n"
            for prefix, first in self.ages[index]
        )


class _FormatCache:
    """Cached lines for one exposition format."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.targets: dict[TargetKey, _TargetLines] = {}
        self.api: dict[TargetKey, _ApiLines] = {}
        self.health: dict[tuple[str, TargetKey], _HealthLines] = {}
        self.data: dict[tuple[str, TargetKey], _DataLines] = {}

    def target(self, state: TargetState, settings: CollectorSettings) -> _TargetLines:
        key = state.target.key
        cached = self.targets.get(key)
        if cached is not None and cached.state is state and cached.settings is settings:
            return cached
        data: list[bytes] = []
        if state.data is not None:
            built = collaborations.data_families(
                [state], settings.trusted, settings.per_collaboration_metrics
            )
            data = _samples_by_family(self.encoder, built)
        health = _samples_by_family(self.encoder, families.health_families([state]))
        fresh = _TargetLines(state, settings, data, health, *self._small_lines(state))
        self.targets[key] = fresh  # a racing scrape may do the same work; both are right
        return fresh

    def _small_lines(self, state: TargetState) -> tuple[bytes, tuple[bytes, bytes], bytes]:
        key = state.target.key
        account, fresh, stale, age = _samples_by_family(
            self.encoder,
            [
                families.account_info([state]),
                families.stale_family([state], {key}),
                families.stale_family([state], set()),
                collaborations.age_family([TargetState(state.target, data=_NO_INVITATION)], 0.0),
            ],
        )
        # The age line as rendered for value 0, cut before its value (the last field).
        return account, (fresh, stale), age.rstrip(b"\n").rsplit(b" ", 1)[0] + b" "

    def api_lines(
        self, key: TargetKey, counts: TargetApiCounts | None, operations: tuple[str, ...]
    ) -> list[bytes]:
        cached = self.api.get(key)
        if cached is not None and cached.counts is counts and cached.operations == operations:
            return cached.lines
        present = {key: counts} if counts is not None else {}
        built = families.api_families(present, [key], operations)
        lines = _samples_by_family(self.encoder, built)
        self.api[key] = _ApiLines(counts, operations, lines)
        return lines

    def health_lines(self, name: str, state: CollectorState[Any]) -> _HealthLines:
        job = (name, state.target.key)
        cached = self.health.get(job)
        if cached is not None and cached.state is state:
            return cached
        *lines, fresh, stale = _samples_by_family(
            self.encoder,
            [
                *collector_families.health_families([(name, state, False)]),
                collector_families.stale_family([(name, state, False)]),
                collector_families.stale_family([(name, state, True)]),
            ],
        )
        built = _HealthLines(state, lines, (fresh, stale))
        self.health[job] = built
        return built

    def data_lines(
        self, spec: CollectorSpec, state: CollectorState[Any], owner: PollData | None
    ) -> _DataLines:
        job = (spec.name, state.target.key)
        cached = self.data.get(job)
        if cached is not None and cached.state is state and cached.collaborations is owner:
            return cached
        fresh = Fresh(state.target.key, state.data, collector_families.active_ids(owner))
        lines = _samples_by_family(self.encoder, spec.families([fresh]))
        ages = [self._age_prefixes(age, fresh) for age in spec.ages]
        built = _DataLines(state, owner, lines, ages)
        self.data[job] = built
        return built

    def _age_prefixes(self, age: AgeSpec, fresh: Fresh) -> list[tuple[bytes, float | None]]:
        # Rendered at value 0 (now=0 clamps every age), then cut before each value.
        (block,) = _samples_by_family(
            self.encoder, [collector_families.age_family(age, [fresh], 0.0)]
        )
        prefixes = [line.rsplit(b" ", 1)[0] + b" " for line in block.splitlines()]
        return list(zip(prefixes, (first for _, first in age.points(fresh)), strict=True))

    def prune(self, keep: set[TargetKey]) -> None:
        for cache in (self.targets, self.api):
            if len(cache) > len(keep):
                # list() copies in one step; other scrapes may be adding entries meanwhile.
                for key in [k for k in list(cache) if k not in keep]:
                    cache.pop(key, None)

    def prune_jobs(self, keep: set[tuple[str, TargetKey]]) -> None:
        for jobs in (self.health, self.data):
            for job in [j for j in list(jobs) if j not in keep]:
                jobs.pop(job, None)


class ExpositionRenderer:
    """Renders the collector (plus small extra collectors) for one Accept header."""

    def __init__(self, collector: CleanRoomsCollector, extra: Sequence[Collector] = ()) -> None:
        self._collector = collector
        self._extra = extra
        self._formats: dict[str, _FormatCache] = {}

    def render(self, accept: str) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept)
        cache = self._formats.get(content_type)
        if cache is None:
            cache = self._formats.setdefault(content_type, _FormatCache(encoder))
        body = self._assemble(cache, self._collector.view())
        if content_type.startswith("application/openmetrics-text"):
            body += _EOF
        return body, content_type

    def _assemble(self, cache: _FormatCache, view: ScrapeView) -> bytes:
        settings = view.settings
        lines = {s.target.key: cache.target(s, settings) for s in view.states}
        keys = [s.target.key for s in view.states]
        fresh = [k for k in keys if k in view.fresh]
        parts = _sections(
            cache.encoder,
            collaborations.data_families([], settings.trusted, settings.per_collaboration_metrics),
            lambda i: [lines[k].data[i] for k in fresh],
        )
        parts += _section(
            cache.encoder,
            collaborations.age_family([], 0.0),
            [lines[k].age(view.now) for k in fresh],
        )
        parts += _section(
            cache.encoder, families.account_info([]), _first_of_each_account(lines, keys)
        )
        parts += _sections(
            cache.encoder,
            families.health_families([]),
            lambda i: [lines[k].health[i] for k in keys],
        )
        parts += _section(
            cache.encoder,
            families.stale_family([], set()),
            [lines[k].stale[k not in view.fresh] for k in keys],
        )
        for name in view.collectors:
            parts += self._collector_sections(cache, view, BY_NAME[name])
        parts += self._health_sections(cache, view)
        parts += self._api_sections(cache, view, keys)
        tail = [families.duration_family(view.api), *families.exporter_families(len(keys))]
        tail += [m for c in self._extra for m in c.collect()]
        parts.append(_render(cache.encoder, tail))
        cache.prune(set(keys) | set(view.api.targets))
        return b"".join(parts)

    def _collector_sections(
        self, cache: _FormatCache, view: ScrapeView, spec: CollectorSpec
    ) -> list[bytes]:
        owners = {s.target.key: s.data for s in view.states}
        fresh = view.collector_fresh[spec.name]
        lines = [
            cache.data_lines(spec, s, owners.get(s.target.key))
            for s in view.collectors[spec.name]
            if s.target.key in fresh
        ]
        parts = _sections(cache.encoder, spec.families([]), lambda i: [d.lines[i] for d in lines])
        for index, age in enumerate(spec.ages):
            empty = collector_families.age_family(age, [], 0.0)
            parts += _section(cache.encoder, empty, [d.age_lines(index, view.now) for d in lines])
        return parts

    def _health_sections(self, cache: _FormatCache, view: ScrapeView) -> list[bytes]:
        rows = view.health_rows()
        health = [cache.health_lines(name, state) for name, state, _ in rows]
        parts = _sections(
            cache.encoder,
            collector_families.health_families([]),
            lambda i: [h.lines[i] for h in health],
        )
        stale = [h.stale[is_stale] for h, (_, _, is_stale) in zip(health, rows, strict=True)]
        parts += _section(cache.encoder, collector_families.stale_family([]), stale)
        cache.prune_jobs({(name, state.target.key) for name, state, _ in rows})
        return parts

    def _api_sections(
        self, cache: _FormatCache, view: ScrapeView, keys: list[TargetKey]
    ) -> list[bytes]:
        api_keys = sorted({*keys, *view.api.targets})
        operations = view.settings.operations
        per_key = [cache.api_lines(k, view.api.targets.get(k), operations) for k in api_keys]
        return _sections(
            cache.encoder, families.api_families({}, []), lambda i: [p[i] for p in per_key]
        )


def _first_of_each_account(
    lines: dict[TargetKey, _TargetLines], keys: list[TargetKey]
) -> list[bytes]:
    # Keys are sorted, so an account's first target is the one the library's dedup keeps.
    seen: set[str] = set()
    out: list[bytes] = []
    for account_id, region in keys:
        if account_id not in seen:
            seen.add(account_id)
            out.append(lines[(account_id, region)].account)
    return out


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
