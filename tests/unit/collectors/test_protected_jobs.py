"""The protected_jobs collector against the fake: counts, finished counters, calls per poll."""

from __future__ import annotations
