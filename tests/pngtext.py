"""PNG text chunks: the status page screenshot carries the page's section headings."""

from __future__ import annotations

import struct
import zlib

SECTIONS_KEY = "cleanrooms-exporter:sections"
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    if not png.startswith(_SIGNATURE):
        raise ValueError("not a PNG")
    chunks, at = [], len(_SIGNATURE)
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind = png[at + 4 : at + 8]
        chunks.append((kind, png[at + 8 : at + 8 + length]))
        at += 12 + length
    return chunks


def with_text(png: bytes, key: str, value: str) -> bytes:
    """The same image with a tEXt chunk ``key`` = ``value`` right after its header."""
    body = key.encode("latin-1") + b"\0" + value.encode("latin-1")
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + body))
    header_end = len(_SIGNATURE) + 12 + _chunks(png)[0][1].__len__()
    return png[:header_end] + chunk + png[header_end:]


def texts(png: bytes) -> dict[str, str]:
    """Every tEXt chunk of the image, by key."""
    found = {}
    for kind, data in _chunks(png):
        if kind == b"tEXt":
            key, _, value = data.partition(b"\0")
            found[key.decode("latin-1")] = value.decode("latin-1")
    return found
