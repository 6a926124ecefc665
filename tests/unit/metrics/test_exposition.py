"""The cached /metrics renderer gives exactly the library's output, and reuses unchanged targets."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from exporter.core.model import Snapshot, Target, TargetState
from exporter.core.stats import ApiStats
from exporter.metrics import exposition
from exporter.metrics.collector import CleanRoomsCollector, CollectorSettings
from exporter.metrics.exposition import ExpositionRenderer
from tests.unit.metrics.test_collector import NOW, snapshot, stats

TEXT = "text/plain"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


class World:
    """A mutable holder for what the collector reads, so a test can change it between scrapes."""

    def __init__(self) -> None:
        self.snapshot = snapshot()
        self.stats = stats()
        self.settings = CollectorSettings(900.0, True, ("444444444444",))
        self.now = NOW
        self.collector = CleanRoomsCollector(
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
    states[added.key] = TargetState(target=added)
    world.snapshot = Snapshot(MappingProxyType(states))
    world.stats.request(("333333333333", "ap-northeast-1", "ListCollaborations"))
    world.stats.outcome(("333333333333", "ap-northeast-1", "ListCollaborations"), 0.1, 'X"y', False)
    world.assert_same(accept)
    world.settings = CollectorSettings(900.0, False, ())
    world.assert_same(accept)
    del states[key]  # a target removed by a reload
    world.snapshot = Snapshot(MappingProxyType(states))
    world.assert_same(accept)


def test_unchanged_targets_are_not_rendered_again(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World()
    world.renderer.render(TEXT)
    calls: list[int] = []
    original = exposition._samples_by_family

    def counting(encoder, metrics):
        calls.append(len(metrics))
        return original(encoder, metrics)

    monkeypatch.setattr(exposition, "_samples_by_family", counting)
    world.now += 10
    world.assert_same(TEXT)
    assert calls == []  # nothing per-target was re-rendered
    key = ("222222222222", "eu-west-2")
    states = dict(world.snapshot.states)
    states[key] = replace(states[key], polls=3)
    world.snapshot = Snapshot(MappingProxyType(states))
    world.assert_same(TEXT)
    # Only that target's health: its target health and stale lines (8 + 2), its
    # collector health and stale lines (7 + 2). Its data did not change: not re-rendered.
    assert calls == [10, 9]


def test_empty_exporter_renders_headers_only() -> None:
    world = World()
    world.snapshot = Snapshot()
    world.stats = ApiStats()
    world.collector = CleanRoomsCollector(
        lambda: world.snapshot, world.stats, lambda: world.settings, lambda: NOW, lambda: NOW
    )
    world.registry = CollectorRegistry()
    world.registry.register(world.collector)
    world.renderer = ExpositionRenderer(world.collector)
    body = world.assert_same(OPENMETRICS)
    assert body.endswith(b"# EOF\n")
    assert body.count(b"# EOF") == 1
