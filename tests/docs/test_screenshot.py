"""The README's status-page picture is not older than the page: it shows every section."""

from __future__ import annotations

import re

from exporter.core.model import Snapshot
from exporter.web.statuspage import render_status_page
from tests.paths import ROOT
from tests.pngtext import SECTIONS_KEY, texts

PICTURE = ROOT / "docs" / "images" / "status-page.png"


def page_sections() -> list[str]:
    return re.findall(r"<h2[^>]*>(.*?)</h2>", render_status_page(Snapshot()))


def test_the_readme_picture_shows_every_section_of_the_page() -> None:
    # Saved by tests/e2e/test_status_page_browser.py with UPDATE_GOLDEN=1, headings and all.
    shown = texts(PICTURE.read_bytes()).get(SECTIONS_KEY, "").splitlines()
    assert shown == page_sections(), (
        "docs/images/status-page.png predates the page's sections: regenerate it with "
        "UPDATE_GOLDEN=1 .venv/bin/pytest tests/e2e/test_status_page_browser.py"
    )
