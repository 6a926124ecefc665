"""A failed poll: how it is raised with its secret-free error, and how long it waits to retry."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from exporter.core.model import CollectorState, PollError

log = logging.getLogger("exporter.polling.poller")  # where operators have always seen it


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


def failed_state(
    name: str, old: CollectorState[Any], error: PollError, duration: float
) -> CollectorState[Any]:
    """The state after a failed poll, logged once per streak of the same failure."""
    account_id, region = old.target.key
    fields = {"account": account_id, "region": region, "collector": name}
    fields |= {"operation": error.operation, "error_code": error.code}
    last = old.last_error
    same = last is not None and (last.operation, last.code) == (error.operation, error.code)
    again = not old.up and same
    # Once per streak of the same failure: a region without Clean Rooms ML fails every
    # (backed-off) poll alike, and the metrics already say so.
    level = logging.DEBUG if again else logging.WARNING
    log.log(level, "poll failed: %s", error.message, extra=fields)
    return counted_failure(old, error, duration)


def counted_failure(
    old: CollectorState[Any], error: PollError, duration: float
) -> CollectorState[Any]:
    """``old`` after one more failed attempt: down, with the error and one more in a row."""
    return replace(
        old,
        up=False,
        polled=True,
        polls=old.polls + 1,
        failures=old.failures + 1,
        consecutive_failures=old.consecutive_failures + 1,
        last_duration=duration,
        last_error=error,
    )
