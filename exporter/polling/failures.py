"""A failed poll: how it is raised with its secret-free error, and how long it waits to retry."""

from __future__ import annotations

from exporter.core.model import PollError


class PollFailed(Exception):
    """A target's poll failed in a known way; carries the secret-free ``PollError``."""

    def __init__(self, error: PollError) -> None:
        super().__init__(f"{error.operation}: {error.code}: {error.message}")
        self.error = error


BACKOFF_FACTOR_CAP = 8  # a failing target waits at most 8 intervals ...
BACKOFF_SECONDS_CAP = 1800.0  # ... and at most 30 minutes (never less than one interval)


def backoff_delay(interval: float, consecutive_failures: int) -> float:
    """The delay before the next poll: the interval, doubled per failure in a row, capped."""
    if consecutive_failures <= 1:
        return interval
    factor: int = min(2 ** (consecutive_failures - 1), BACKOFF_FACTOR_CAP)
    return max(interval, min(interval * factor, BACKOFF_SECONDS_CAP))
