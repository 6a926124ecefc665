"""Sample lines in the library's own bytes, and re-formatting them when only values moved.

Most polls change a job's values, not its series: a counter ticks, a timestamp moves,
but the same label sets come back. The library's encoder escapes and validates every
label of every sample each time; ``LineTemplate`` remembers each line's bytes up to its value,
so the next rendering of the same series formats values only (``floatToGoString``, as
the library does). Anything the shortcut cannot reproduce exactly (timestamps,
exemplars, native histograms, a line count that does not match the samples) goes to
the library's encoder, whose output then becomes the new shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from prometheus_client.core import Metric
from prometheus_client.utils import floatToGoString

Encoder = Callable[..., bytes]
EOF = b"# EOF\n"
# The library's own number formatting (untyped upstream), so values match byte for byte.
go_float = cast(Callable[[float], str], floatToGoString)


class _Families:
    """The one method prometheus_client's encoders need from a registry."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterator[Metric]:
        return iter(self._metrics)


def render(encoder: Encoder, metrics: Iterable[Metric]) -> bytes:
    """Whole families with their HELP/TYPE lines, without OpenMetrics' closing EOF."""
    text: bytes = encoder(_Families(metrics))
    return text.removesuffix(EOF)


def samples_by_family(encoder: Encoder, metrics: Sequence[Metric]) -> list[bytes]:
    """The sample lines of each family (no comment lines), in the order given."""
    blocks: list[list[bytes]] = []
    # Lines end in \n alone: a label value may hold a \r, which the library leaves as it is.
    for line in split_lines(render(encoder, metrics)):
        if line.startswith(b"# HELP "):
            blocks.append([])
        elif not line.startswith(b"# "):
            blocks[-1].append(line)
    if len(blocks) != len(metrics):
        raise RuntimeError("unexpected exposition layout")  # a library change; fail loudly
    return [b"".join(block) for block in blocks]


def split_lines(text: bytes) -> list[bytes]:
    """Each line with its \n; not ``splitlines``, which also splits at \r (and others)."""
    return [line + b"\n" for line in text.split(b"\n")[:-1]]


@dataclass(frozen=True)
class LineTemplate:
    """Which series some families had (a hash of names and labels), and their lines.

    The lines are the cache's own (no copy); each one's bytes up to its value are the
    prefix for the same series' next values. A 64-bit hash stands for the series so
    that the cache holds no second copy of every label: two different label sets of
    one job would have to collide, with odds of about one in 2**64 per change.
    """

    series: int
    blocks: tuple[bytes, ...]


def series_of(metrics: Sequence[Metric]) -> int:
    return hash(
        tuple(
            tuple((s.name, tuple(s.labels.items())) for s in metric.samples) for metric in metrics
        )
    )


def _plain(metrics: Sequence[Metric]) -> bool:
    """Samples a prefix and a formatted value render exactly: no timestamp or exemplar."""
    return all(
        s.value is not None
        and s.timestamp is None
        and s.exemplar is None
        and getattr(s, "native_histogram", None) is None
        for metric in metrics
        for s in metric.samples
    )


def reformat(
    encoder: Encoder, metrics: Sequence[Metric], shape: LineTemplate | None
) -> tuple[list[bytes], LineTemplate | None]:
    """Each family's sample lines, and the shape to pass next time (None: no shortcut)."""
    series = series_of(metrics)
    if shape is not None and shape.series == series and _plain(metrics):
        blocks = [_values(b, m.samples) for b, m in zip(shape.blocks, metrics, strict=True)]
    else:
        blocks = samples_by_family(encoder, metrics)
        if not _plain(metrics) or not _one_line_each(blocks, metrics):
            return blocks, None  # the encoder wrote lines of its own: render through it
    return blocks, LineTemplate(series, tuple(blocks))


def _one_line_each(blocks: list[bytes], metrics: Sequence[Metric]) -> bool:
    return all(
        block.count(b"\n") == len(metric.samples)
        for block, metric in zip(blocks, metrics, strict=True)
    )


def _values(block: bytes, samples: Sequence[Any]) -> bytes:
    lines = split_lines(block)
    return b"".join(with_value(line, s.value) for line, s in zip(lines, samples, strict=True))


def with_value(line: bytes, value: float) -> bytes:
    """A sample line's bytes up to its value, then ``value`` as the library writes it."""
    return line[: line.rindex(b" ") + 1] + go_float(value).encode() + b"\n"
