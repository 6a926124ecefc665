"""Polls hold their next request while a scrape renders, and never longer than max_wait."""

from __future__ import annotations

import threading
import time

from exporter.core.gate import ScrapeGate
from exporter.metrics.exposition import ExpositionRenderer
from tests.unit.metrics.test_exposition import TEXT, World


def test_a_request_waits_for_the_scrape_then_goes() -> None:
    gate = ScrapeGate(max_wait=5.0)
    went = threading.Event()

    def request() -> None:
        gate.wait()
        went.set()

    with gate.scraping():
        thread = threading.Thread(target=request)
        thread.start()
        assert not went.wait(0.2)  # held while the scrape renders
    assert went.wait(2)  # and released when it ends
    thread.join()


def test_overlapping_scrapes_keep_it_closed_until_the_last_ends() -> None:
    gate = ScrapeGate(max_wait=0.01)
    with gate.scraping():
        with gate.scraping():
            pass
        assert not gate.wait()  # one scrape still renders: held (for max_wait)
    assert gate.wait()


def test_back_to_back_scrapes_delay_a_request_by_max_wait_at_most() -> None:
    gate = ScrapeGate(max_wait=0.05)
    with gate.scraping():
        began = time.monotonic()
        assert not gate.wait()
        assert time.monotonic() - began < 1.0


def test_the_renderer_closes_the_gate_while_it_renders() -> None:
    world = World()
    gate = ScrapeGate(max_wait=0.01)
    seen: list[bool] = []
    view = world.collector.view

    def watching_view():  # called inside the render
        seen.append(gate.wait())
        return view()

    world.collector.view = watching_view  # type: ignore[method-assign]
    renderer = ExpositionRenderer(world.collector, gate=gate)
    body, _ = renderer.render(TEXT)
    assert seen == [False]  # closed during the render
    assert gate.wait()  # open after it
    assert body == world.library(TEXT)
