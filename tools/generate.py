"""Write what derives from the collector registry into the files that show it.

After adding or changing a collector, run from the repository's root::

    .venv/bin/python -m tools.generate

Each generated part sits between a ``BEGIN GENERATED: name`` and an ``END GENERATED: name``
marker line (an HTML comment in Markdown, a ``#`` comment in YAML); everything around the
markers is written by hand. ``--check`` writes nothing and exits 1 naming each stale file,
as ``go generate`` followed by a diff check does; the test suite runs it.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tools import registry_text, series_text

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ".venv/bin/python -m tools.generate"


@dataclass(frozen=True)
class Part:
    """One generated region: its file, its name, how to render it, and its comment style."""

    path: str
    name: str
    render: Callable[[], str]

    @property
    def markdown(self) -> bool:
        return self.path.endswith(".md")

    def markers(self) -> tuple[str, str]:
        if self.markdown:
            return (
                f"<!-- BEGIN GENERATED: {self.name} ({COMMAND}) -->",
                f"<!-- END GENERATED: {self.name} -->",
            )
        return (f"# BEGIN GENERATED: {self.name} ({COMMAND})", f"# END GENERATED: {self.name}")


PARTS = (
    Part("README.md", "iam-policy", lambda: registry_text.iam_policy(indent="   ")),
    Part("docs/collectors.md", "collectors-table", registry_text.collectors_table),
    Part("docs/collectors.md", "collectors-config", registry_text.config_block),
    Part("docs/collectors.md", "families", registry_text.families_reference),
    Part("docs/metrics.md", "series-budget", series_text.budget_table),
    Part("docs/metrics.md", "detail-levels", series_text.detail_table),
    Part("docs/metrics.md", "controls", series_text.controls_table),
    Part("config.example.yaml", "collectors", registry_text.config_section),
    Part("deploy/helm/cleanrooms-exporter/values.yaml", "iam-actions", registry_text.helm_actions),
)


class MarkersMissing(Exception):
    """A file lacks the markers of a part it should hold."""


def rewrite(text: str, part: Part) -> str:
    """``text`` with the part's region replaced by a fresh rendering."""
    begin, end = part.markers()
    pattern = re.compile(rf"^([ \t]*){re.escape(begin)}\n.*?^[ \t]*{re.escape(end)}$", re.S | re.M)
    match = pattern.search(text)
    if match is None:
        raise MarkersMissing(f"{part.path}: no {begin!r} ... {end!r} lines")
    indent = match.group(1)
    body = part.render().rstrip("\n")
    block = f"{indent}{begin}\n{body}\n{indent}{end}"
    return text[: match.start()] + block + text[match.end() :]


def generated() -> dict[str, str]:
    """Every file with a generated part, as it should read."""
    texts: dict[str, str] = {}
    for part in PARTS:
        text = texts.get(part.path) or (ROOT / part.path).read_text()
        texts[part.path] = rewrite(text, part)
    return texts


def stale() -> list[str]:
    """The files whose generated parts differ from what the registry says."""
    return [p for p, text in generated().items() if (ROOT / p).read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    if args.check:
        found = stale()
        for path in found:
            print(f"{path}: out of date; run {COMMAND}", file=sys.stderr)
        return 1 if found else 0
    for path, text in generated().items():
        if (ROOT / path).read_text() != text:
            (ROOT / path).write_text(text)
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
