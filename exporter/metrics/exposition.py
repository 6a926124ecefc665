"""Render /metrics cheaply: each (collector, target)'s lines are rendered once per poll and reused.

The lines live in ``cache.FormatCache``, one per exposition format. Per scrape, only what
depends on the clock (ages, staleness) and the small global families are formatted, and
the sections (``scrape.Sections``, the order written once) are joined as blocks, one per
family (``blocks``): the allow and deny lists and a scrape's ``name[]`` choose among them.
Every byte is still the library's own formatting: the output equals ``generate_latest`` of
the collector (restricted to ``name[]`` as the library restricts it), which the tests
check. While it renders, polls hold their next requests back (``core/gate.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import nullcontext
from typing import Any

from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder

from exporter.collectors.base import CollectorSpec
from exporter.core.gate import ScrapeGate
from exporter.metrics import builtin, declared, health
from exporter.metrics.blocks import Block, restrict
from exporter.metrics.cache import FormatCache
from exporter.metrics.lines import EOF as _EOF
from exporter.metrics.lines import Encoder, split_lines
from exporter.metrics.lines import render as _render
from exporter.metrics.scrape import ScrapeView, Sections, SnapshotMetrics, tail_metrics

# A format's cached lines are dropped once no scrape has asked for it this long: at
# organisation scale they are over 100 MiB, and one `curl` of the text format beside a
# Prometheus reading OpenMetrics would otherwise hold a second copy for good.
FORMAT_IDLE_SECONDS = 600.0


class ExpositionRenderer:
    """Renders the snapshot's metrics (its extra collectors included) for one Accept header."""

    def __init__(
        self,
        metrics: SnapshotMetrics,
        gate: ScrapeGate | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metrics = metrics
        self._gate = gate or ScrapeGate()  # closed while this renders: polls step aside
        self._formats: dict[str, FormatCache] = {}
        self._used: dict[str, float] = {}  # each format's last rendering, by ``clock``
        self._clock = clock

    def cached_formats(self) -> list[str]:
        """The content types whose lines are cached."""
        return list(self._formats)

    def render(
        self, accept: str, names: Collection[str] | None = None, *, hold_polls: bool = True
    ) -> tuple[bytes, str]:
        """The exposition for an Accept header, of the samples ``names`` asks for (None: all),
        in one piece. Polls wait while it renders (a scrape's)."""
        parts, content_type = self.render_parts(accept, names, hold_polls=hold_polls)
        return b"".join(parts), content_type

    def render_parts(
        self, accept: str, names: Collection[str] | None = None, *, hold_polls: bool = True
    ) -> tuple[list[bytes], str]:
        """``render``'s body as the cached blocks it is made of, to send one after another:
        at organisation scale a joined copy is tens of megabytes more at every scrape."""
        encoder, content_type = choose_encoder(accept)
        self._forget_idle(content_type)
        cache = self._formats.get(content_type)
        if cache is None:
            cache = self._formats.setdefault(content_type, FormatCache(encoder))
        # The warm-up (hold_polls=False) has no scraper waiting: polls need not wait for it.
        with self._gate.scraping() if hold_polls else nullcontext():
            view = self._metrics.view()
            blocks = _CachedSections(cache, self._metrics).sections(view)
            output = view.settings.output
            kept = restrict((b for b in blocks if output.exports(b.exposed)), names)
            parts = [part for block in kept for part in block.parts]
            _prune(cache, view)
        if content_type.startswith("application/openmetrics-text"):
            parts.append(_EOF)
        return parts, content_type

    def _forget_idle(self, content_type: str) -> None:
        """Note ``content_type``'s use, and drop the formats idle too long (a scrape's
        rendering of one may still hold its cache: it finishes with it, uncached)."""
        now = self._clock()
        self._used[content_type] = now
        for other, used in list(self._used.items()):
            if now - used > FORMAT_IDLE_SECONDS:
                self._formats.pop(other, None)
                self._used.pop(other, None)


def _prune(cache: FormatCache, view: ScrapeView) -> None:
    cache.prune(set(view.keys) | set(view.api.targets))
    cache.prune_jobs(
        {(name, s.target.key) for name, states in view.collectors.items() for s in states}
    )


class _CachedSections(Sections[Block]):
    """The exposition's sections from cached lines: one block per family."""

    def __init__(self, cache: FormatCache, metrics: SnapshotMetrics) -> None:
        self.cache = cache
        self.extra = metrics.extra
        self.carry = metrics.carry

    def collector_data(self, view: ScrapeView, spec: CollectorSpec[Any]) -> list[Block]:
        """Each family's header and the fresh targets' lines, then the ages at ``view.now``."""
        output = view.settings.output
        encoder = self.cache.encoder
        fresh = view.fresh_inputs(spec)
        lines = [self.cache.data_lines(spec, item, output, self.carry) for item in fresh]
        blocks = [
            _block(encoder, metric, [d.lines[i] for d in lines], sum(d.counts[i] for d in lines))
            for i, metric in enumerate(declared.families(spec, [], output))
        ]
        for index, age in enumerate(declared.ages(spec, output)):
            empty = declared.age_family(age, [], 0.0)
            ages = [d.age_lines(index, view.now) for d in lines]
            blocks.append(_block(encoder, empty, ages, sum(len(d.ages[index]) for d in lines)))
        return blocks

    def series(self, parts: list[Block]) -> int:
        return sum(block.samples for block in parts)

    def merged(self, parts: list[Block]) -> list[Block]:
        return _merged(parts)

    def accounts(self, view: ScrapeView) -> list[Block]:
        lines = _first_of_each_account(self.cache, view)
        return [_block(self.cache.encoder, builtin.account_info([]), lines)]

    def quotas(self, view: ScrapeView) -> list[Block]:
        applied = view.applied_quotas()
        quotas = [self.cache.quota(s.target, applied.get(s.target.key)) for s in view.states]
        return [_block(self.cache.encoder, builtin.quota_limits([]), quotas)]

    def health(
        self, view: ScrapeView, kind: health.Health, rows: list[health.HealthRow]
    ) -> list[Block]:
        encoder = self.cache.encoder
        built = [self.cache.health_lines(kind, row) for row in rows]
        blocks = _blocks(
            encoder, health.health_families(kind, []), lambda i: [h.lines[i] for h in built]
        )
        stale = [h.stale[is_stale] for h, (_, _, is_stale) in zip(built, rows, strict=True)]
        blocks.append(_block(encoder, health.stale_family(kind, []), stale))
        return blocks

    def api(self, view: ScrapeView) -> list[Block]:
        api_keys = sorted({*view.keys, *view.api.targets})
        operations = view.settings.operations
        per_key = [self.cache.api_lines(k, view.api.targets.get(k), operations) for k in api_keys]
        return _blocks(
            self.cache.encoder, builtin.api_families({}, []), lambda i: [p[i] for p in per_key]
        )

    def tail(self, view: ScrapeView, counts: Mapping[str, int]) -> list[Block]:
        encoder = self.cache.encoder
        return [_rendered(encoder, m) for m in tail_metrics(view, counts, self.extra)]


def _first_of_each_account(cache: FormatCache, view: ScrapeView) -> list[bytes]:
    # States are sorted, so an account's first target is the one the library's dedup keeps.
    seen: set[str] = set()
    out: list[bytes] = []
    for state in view.states:
        if state.target.account_id not in seen:
            seen.add(state.target.account_id)
            out.append(cache.account(state.target))
    return out


def _merged(blocks: Iterable[Block]) -> list[Block]:
    """Families several collectors share (the details backlog) as one: first place, all lines."""
    by_name: dict[str, Block] = {}
    for block in blocks:
        first = by_name.get(block.name)
        if first is None:
            by_name[block.name] = block
        else:  # the same header: keep the first
            parts = (*first.parts, *block.parts[1:])
            by_name[block.name] = Block(
                first.name, first.type, parts, first.samples + block.samples
            )
    return list(by_name.values())


def _rendered(encoder: Encoder, metric: Metric) -> Block:
    """A small family rendered whole, as a block: its comment lines, then its samples."""
    lines = split_lines(_render(encoder, [metric]))
    header = [line for line in lines if line.startswith(b"# ")]
    return Block(metric.name, metric.type, (b"".join(header), *lines[len(header) :]))


def _block(encoder: Encoder, empty: Metric, samples: list[bytes], count: int = 0) -> Block:
    """One family's HELP/TYPE header followed by its cached sample lines."""
    return Block(empty.name, empty.type, (_render(encoder, [empty]), *samples), count)


def _blocks(
    encoder: Encoder, empty: Sequence[Metric], samples: Callable[[int], list[bytes]]
) -> list[Block]:
    """Several families: each header, then ``samples(i)`` for the i-th family."""
    return [_block(encoder, metric, samples(index)) for index, metric in enumerate(empty)]
