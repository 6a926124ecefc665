"""The botocore event hooks that count every API attempt: requests, errors, throttles, durations.

Registered on each client the exporter creates; ``labels`` says which target an attempt
counts under (the calling thread's, or a fixed one for discovery).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from exporter.aws.credentials import CallContext
from exporter.aws.error_codes import classify_attempt
from exporter.core.model import TargetKey
from exporter.core.stats import ApiStats

Labels = Callable[[], TargetKey | None]


class ApiAccounting:
    """Feeds ``stats`` from the ``before-send`` and ``response-received`` events of clients."""

    def __init__(self, stats: ApiStats, context: CallContext) -> None:
        self._stats = stats
        self._context = context

    def instrument(self, client: Any, labels: Labels) -> None:
        events = client.meta.events
        events.register("before-send", partial(self._before_send, labels))
        events.register("response-received", partial(self._received, labels))

    def _before_send(self, labels: Labels, *, event_name: str, **_: Any) -> None:
        # botocore emits before-send and response-received on the sending thread,
        # once per attempt, so a thread-local start time is exact.
        self._context.started = time.perf_counter()
        target = labels()
        if target is not None:
            self._stats.request((*target, event_name.rsplit(".", 1)[-1]))

    def _received(
        self,
        labels: Labels,
        *,
        event_name: str,
        exception: Exception | None = None,
        response_dict: dict[str, Any] | None = None,
        parsed_response: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        target = labels()
        if target is None:
            return
        started = self._context.started
        duration = time.perf_counter() - started if started is not None else None
        code, throttled = classify_attempt(exception, response_dict, parsed_response)
        self._stats.outcome((*target, event_name.rsplit(".", 1)[-1]), duration, code, throttled)
