"""A freed scrape body goes back to the operating system (glibc's malloc, fixed threshold)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from exporter.core import memory
from tests.paths import ROOT

# Twenty scrapes, each building a 20 MB body in a thread of its own (as the HTTP
# server does) and freeing it; the MiB of RSS still held afterwards.
SCRAPES = """
import sys, threading
from exporter.core.memory import return_large_buffers
if sys.argv[1] == "fixed":
    assert return_large_buffers()
def rss():
    return int(dict(l.split(":", 1) for l in open("/proc/self/status"))["VmRSS"].split()[0])
base = rss()
def serve():
    body = b"".join([b"x" * 1000] * 20000)
    del body
for _ in range(20):
    thread = threading.Thread(target=serve)
    thread.start()
    thread.join()
print((rss() - base) // 1024)
"""


def held_mib(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", SCRAPES, mode], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def test_freed_bodies_are_returned_with_the_threshold_fixed() -> None:
    assert held_mib("fixed") < 8  # without it glibc keeps one body or more (21 MiB here)


class _Libc:
    """A C library that records what ``mallopt`` is asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int]] = []

    def mallopt(self, option: int, value: int) -> int:
        self.asked.append((option, value))
        return 1


def test_the_threshold_is_fixed_and_the_arenas_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    libc = _Libc()
    monkeypatch.setattr(memory.sys, "platform", "linux")
    monkeypatch.setattr(memory.ctypes, "CDLL", lambda _name: libc)
    assert memory.return_large_buffers()
    assert libc.asked == [(memory.M_MMAP_THRESHOLD, 1 << 20), (memory.M_ARENA_MAX, 2)]
