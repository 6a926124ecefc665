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
THRESHOLD = 1 << 20  # bytes: a cached block of lines is smaller, a whole body larger


def return_large_buffers() -> bool:
    """Fix malloc's mmap threshold; True when the C library took it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)  # the C library this process already uses
    except OSError:
        return False
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD))
