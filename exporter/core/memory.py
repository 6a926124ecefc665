"""Large freed buffers go back to the operating system at once (glibc's malloc).

A scrape at organisation scale builds a body of tens of megabytes, in whichever
thread serves it. glibc raises its mmap threshold each time such a block is freed,
so the next ones come from per-thread arenas that keep the memory after it is
freed: under polling load the exporter's peak RSS grew by one body per scrape,
487 MiB after a minute against 211 MiB with the threshold fixed (docs/performance.md,
"Organisation scale"). Fixing the threshold
(which also stops glibc's adjusting it) keeps every block above it in an mmap of its
own, unmapped when freed. Other C libraries (musl has no ``mallopt``) are left alone.
"""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
M_ARENA_MAX = -8
THRESHOLD = 1 << 20  # bytes: a cached block of lines is smaller, a whole body larger
# glibc gives each thread that contends for the heap an arena of its own, up to 8 per core,
# and memory freed in one arena serves only that arena's threads: with the poll threads and
# the HTTP threads at organisation scale, RSS grew by a tenth (docs/performance.md). The
# GIL lets one thread allocate at a time anyway, so two arenas cost no throughput.
ARENAS = 2


def return_large_buffers() -> bool:
    """Fix malloc's mmap threshold and cap its arenas; True when the C library took them."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)  # the C library this process already uses
    except OSError:
        return False
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD)) and bool(mallopt(M_ARENA_MAX, ARENAS))
