"""The cached /metrics renderer gives exactly the library's output, and reuses unchanged targets."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

from exporter.core.model import CollectorState, PollError, Snapshot, Target
from exporter.core.stats import ApiStats
from exporter.metrics import cache, health, lines
from exporter.metrics.exposition import ExpositionRenderer
from exporter.metrics.scrape import ScrapeSettings, SnapshotMetrics
from tests.unit.metrics.test_collector import NOW, snapshot, stats

TEXT = "text/plain"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


class World:
    """A mutable holder for what the collector reads, so a test can change it between scrapes."""

    def __init__(self) -> None:
        self.snapshot = snapshot()
        self.stats = stats()
        self.settings = ScrapeSettings(900.0, True, ("444444444444",))
        self.now = NOW
        self.collector = SnapshotMetrics(
            lambda: self.snapshot,
            self.stats,
            lambda: self.settings,
            lambda: self.now,
            lambda: self.now,
        )
        self.registry = CollectorRegistry()
        self.registry.register(self.collector)
        self.renderer = ExpositionRenderer(self.collector)

    def library(self, accept: str) -> bytes:
        encoder, _ = choose_encoder(accept)
        return bytes(encoder(self.registry))

    def assert_same(self, accept: str) -> bytes:
        body, content_type = self.renderer.render(accept)
        assert content_type == choose_encoder(accept)[1]
        assert body == self.library(accept)
        return body


@pytest.mark.parametrize("accept", [TEXT, OPENMETRICS])
def test_same_bytes_as_the_library_through_changes(accept: str) -> None:
    world = World()
    world.assert_same(accept)
    world.assert_same(accept)  # served from the cache this time
    world.now += 901  # the first target goes stale: its collaboration series vanish
    stale = world.assert_same(accept)
    assert b'cleanrooms_collaborations{account_id="111111111111"' not in stale
    world.now = NOW + 30
    key = ("111111111111", "us-east-1")
    states = dict(world.snapshot.states)
    states[key] = replace(states[key], polls=99, data=None)  # a new state for one target
    added = Target("333333333333", "ap-northeast-1", "new")
    states[added.key] = CollectorState(target=added)
    world.snapshot = Snapshot(MappingProxyType(states))
    world.stats.request(("333333333333", "ap-northeast-1", "ListCollaborations"))
    world.stats.outcome(("333333333333", "ap-northeast-1", "ListCollaborations"), 0.1, 'X"y', False)
    world.assert_same(accept)
    world.settings = ScrapeSettings(900.0, False, ())
    world.assert_same(accept)
    del states[key]  # a target removed by a reload
    world.snapshot = Snapshot(MappingProxyType(states))
    world.assert_same(accept)


def test_unchanged_targets_are_not_rendered_again(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World()
    world.renderer.render(TEXT)
    built: list[int] = []  # families built again for one job
    encoded: list[int] = []  # families that went through the library's encoder
    reformat, samples = cache.reformat, cache.samples_by_family
    families = health.health_families

    def counting_reformat(encoder, metrics, shape):
        built.append(len(metrics))
        return reformat(encoder, metrics, shape)

    def counting_samples(encoder, metrics):
        encoded.append(len(metrics))
        return samples(encoder, metrics)

    def counting_families(kind, rows):
        if rows:  # not the empty families each scrape takes its headers from
            built.append(-1)
        return families(kind, rows)

    monkeypatch.setattr(cache, "reformat", counting_reformat)
    monkeypatch.setattr(cache, "samples_by_family", counting_samples)
    monkeypatch.setattr(health, "health_families", counting_families)
    world.now += 10
    world.renderer.render(TEXT)
    assert built == []  # nothing per-target was built again
    key = ("222222222222", "eu-west-2")
    states = dict(world.snapshot.states)
    states[key] = replace(states[key], polls=3)
    world.snapshot = Snapshot(MappingProxyType(states))
    body, _ = world.renderer.render(TEXT)
    # That target's health has new values for the same series: its lines keep their
    # bytes up to each value. Its data did not change: nothing was built or encoded.
    assert (built, encoded) == ([], [])
    encoded.clear()
    failed = PollError("ListCollaborations", "ThrottlingException", "slow down")
    states[key] = replace(states[key], up=False, last_error=failed)
    world.snapshot = Snapshot(MappingProxyType(states))
    body, _ = world.renderer.render(TEXT)
    # A new series (its error): its health goes through the library, target and collector.
    assert len(encoded) == 2
    monkeypatch.undo()
    assert body == world.library(TEXT)


def test_new_series_go_through_the_library_and_values_alone_do_not() -> None:
    encoder, _ = choose_encoder(TEXT)
    first = [GaugeMetricFamily("g", "help", labels=["a"])]
    first[0].add_metric(['x"y'], 1.5)
    blocks, shape = lines.reformat(encoder, first, None)
    assert shape is not None
    moved = [GaugeMetricFamily("g", "help", labels=["a"])]
    moved[0].add_metric(['x"y'], float("inf"))
    again, same = lines.reformat(encoder, moved, shape)
    assert same is not None
    assert same.series == shape.series
    assert again == lines.samples_by_family(encoder, moved)
    grown = [GaugeMetricFamily("g", "help", labels=["a"])]
    grown[0].add_metric(['x"y'], 1.0)
    grown[0].add_metric(["z"], 2.0)
    blocks, new_shape = lines.reformat(encoder, grown, same)
    assert new_shape is not None
    assert new_shape.series != shape.series
    assert blocks == lines.samples_by_family(encoder, grown)
    stamped = [GaugeMetricFamily("g", "help", labels=["a"])]
    stamped[0].add_metric(["z"], 2.0, timestamp=5)
    blocks, none = lines.reformat(encoder, stamped, None)
    assert none is None
    assert blocks == [b'g{a="z"} 2.0 5000\n']


def test_empty_exporter_renders_headers_only() -> None:
    world = World()
    world.snapshot = Snapshot()
    world.stats = ApiStats()
    world.collector = SnapshotMetrics(
        lambda: world.snapshot, world.stats, lambda: world.settings, lambda: NOW, lambda: NOW
    )
    world.registry = CollectorRegistry()
    world.registry.register(world.collector)
    world.renderer = ExpositionRenderer(world.collector)
    body = world.assert_same(OPENMETRICS)
    assert body.endswith(b"# EOF\n")
    assert body.count(b"# EOF") == 1


@pytest.mark.parametrize("accept", [TEXT, OPENMETRICS])
def test_a_carriage_return_in_a_label_value_keeps_one_line_per_sample(accept: str) -> None:
    # The library escapes \\, \n and " in label values, not \r: lines end at \n alone.
    encoder, _ = choose_encoder(accept)
    shape = None
    for value in (1.0, 2.0, 3.0):
        family = GaugeMetricFamily("g", "help", labels=["name"])
        family.add_metric(["Q3 campaign\rpartner"], value)
        family.add_metric(["x\r# HELP y"], value)
        blocks, shape = lines.reformat(encoder, [family], shape)
        assert shape is not None
        assert blocks == [lines.render(encoder, [family]).split(b"\n", 2)[2]]


def test_a_format_nobody_scraped_for_ten_minutes_is_dropped_and_renders_the_same() -> None:
    world = World()
    clock = [0.0]
    world.renderer = ExpositionRenderer(world.collector, clock=lambda: clock[0])
    world.assert_same(TEXT)
    world.assert_same(OPENMETRICS)
    text_type, openmetrics_type = choose_encoder(TEXT)[1], choose_encoder(OPENMETRICS)[1]
    assert world.renderer.cached_formats() == [text_type, openmetrics_type]
    clock[0] = 300.0
    world.assert_same(OPENMETRICS)
    assert world.renderer.cached_formats() == [text_type, openmetrics_type]  # 300 s: kept
    clock[0] = 600.5
    world.assert_same(OPENMETRICS)
    assert world.renderer.cached_formats() == [openmetrics_type]  # text idle 600.5 s
    clock[0] = 1300.0
    world.assert_same(TEXT)  # back, cold: the same bytes
    assert world.renderer.cached_formats() == [text_type]  # OpenMetrics idle 699.5 s
