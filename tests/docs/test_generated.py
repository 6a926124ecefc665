"""What derives from the collector registry is written where it shows, and kept current."""

from __future__ import annotations

import pytest

from tools import generate


def test_every_generated_part_is_current() -> None:
    stale = generate.stale()
    assert stale == [], f"out of date: {', '.join(stale)}; run {generate.COMMAND}"


def test_a_stale_part_is_found_and_its_markers_are_required() -> None:
    (part,) = [p for p in generate.PARTS if p.name == "iam-actions"]
    text = (generate.ROOT / part.path).read_text()
    begin, _ = part.markers()
    stale = text.replace("cleanrooms:ListMembers,", "", 1)
    assert generate.rewrite(stale, part) == text
    with pytest.raises(generate.MarkersMissing):
        generate.rewrite(text.replace(begin, ""), part)
