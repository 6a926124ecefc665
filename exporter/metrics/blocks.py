"""The cached exposition as blocks, one per family, and what a scrape's ``name[]`` keeps of it.

A block is one family's HELP/TYPE header and its sample lines, as cached bytes. The
renderer joins the blocks a scrape keeps: those the allow and deny lists export, and, when
the scrape asks for ``name[]``, only the samples of those names. ``name[]`` is
prometheus_client's own parameter with its meaning (``Metric._restricted_metric``): it
names samples, so ``cleanrooms_api_requests_total``, ``cleanrooms_collaboration_info`` or
``cleanrooms_protected_query_duration_seconds_bucket``; a family with no sample left is
left out whole, header included.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from exporter.core.series import exposed_name
from exporter.metrics.lines import split_lines

# The sample names of a family of each type, after its name (prometheus_client's).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "info": ("_info",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
}


@dataclass(frozen=True, slots=True)
class Block:
    """One family: its name and type, then its header and sample lines in parts."""

    name: str  # as the library's Metric has it: no _total or _info
    type: str
    parts: tuple[bytes, ...]  # the header first, then any number of sample lines each
    samples: int = 0  # sample lines, where the caller counted them (collectors' data)

    @property
    def exposed(self) -> str:
        """The name the allow and deny lists match."""
        return exposed_name(self.name, self.type)

    def sample_names(self) -> tuple[str, ...]:
        return tuple(self.name + suffix for suffix in SUFFIXES.get(self.type, ("",)))

    def restricted(self, names: Collection[str]) -> Block | None:
        """The block with only the samples ``names`` asks for; None when none is left."""
        own = self.sample_names()
        wanted = [n for n in own if n in names]
        if not wanted:
            return None
        lines = self.parts[1:]
        if len(wanted) < len([n for n in own if not n.endswith("_created")]):
            # Some of a histogram's samples only: keep the lines of those names.
            lines = tuple(_lines_of(lines, tuple(wanted)))
        if not any(lines):
            return None  # no sample at all: the library leaves the family out
        return Block(self.name, self.type, (self.parts[0], *lines), self.samples)


def _lines_of(parts: Iterable[bytes], names: tuple[str, ...]) -> Iterable[bytes]:
    """The lines whose sample name is one of ``names``."""
    starts = tuple(n.encode() + end for n in names for end in (b"{", b" "))
    for part in parts:
        kept = [line for line in split_lines(part) if line.startswith(starts)]
        if kept:
            yield b"".join(kept)


def restrict(blocks: Iterable[Block], names: Collection[str] | None) -> list[Block]:
    """The blocks a scrape asking for ``names`` (None: everything) gets."""
    if names is None:
        return list(blocks)
    return [kept for block in blocks if (kept := block.restricted(names)) is not None]
