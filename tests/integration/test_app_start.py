"""What the app does for its scrapes when it starts: memory settings and a warm cache."""

from __future__ import annotations

from exporter.app import WARM_FORMATS, App
from exporter.config import parse_config
from exporter.core import memory
from tests.faultproxy import wait_for


def test_the_app_fixes_it() -> None:
    calls: list[int] = []
    original = memory.return_large_buffers
    memory.return_large_buffers = lambda: calls.append(1) or original()  # type: ignore[assignment]
    try:
        App(parse_config("", {}))
    finally:
        memory.return_large_buffers = original  # type: ignore[assignment]
    assert calls == [1]


def test_once_ready_the_app_renders_both_formats_before_any_scrape() -> None:
    app = App(parse_config("", {}))  # no targets: ready at once
    rendered: list[str] = []
    render = app.renderer.render_parts
    app.renderer.render_parts = lambda accept, **kw: rendered.append(accept) or render(accept, **kw)  # type: ignore[method-assign]
    app.start()
    try:
        wait_for(lambda: len(rendered) == len(WARM_FORMATS), timeout=10)
    finally:
        app.stop()
    assert rendered == list(WARM_FORMATS)
    assert app.warmed.is_set()
