"""A stand-in for one target's AWS in collector unit tests: list answers paged as the API pages.

Not a mock of the exporter: it answers ``client.call(operation, **params)`` as AWS does, one
page of at most ``maxResults`` items with a ``nextToken``, from what a test put in it, and
records every call so a test can count calls against the collector's formula.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.bodies import list_member
from exporter.collectors.base import PollContext
from exporter.collectors.collaborations import Collaboration, PollData
from exporter.core.errors import ApiError

Answer = Callable[[dict[str, Any]], Any]


def when(seconds: float) -> datetime:
    """A timestamp as botocore parses one."""
    return datetime.fromtimestamp(seconds, UTC)


class StubAws:
    """List answers by (operation, its identifying parameters); Gets by a function."""

    def __init__(self) -> None:
        self.lists: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, list[Any]]] = {}
        self.answers: dict[str, Answer] = {}
        self.errors: dict[str, ApiError] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def put(self, operation: str, key: str, items: list[Any], **params: str) -> None:
        """What ``operation`` lists under ``key`` for ``params`` (identifiers, filters)."""
        self.lists[(operation, tuple(sorted(params.items())))] = (key, items)

    def call(self, operation: str, **params: Any) -> Any:
        self.calls.append((operation, params))
        if operation in self.errors:
            raise self.errors[operation]
        if operation in self.answers:
            return self.answers[operation](params)
        wanted = {k: v for k, v in params.items() if k not in ("maxResults", "nextToken")}
        key, items = self.lists.get((operation, tuple(sorted(wanted.items()))), ("", []))
        start, size = int(params.get("nextToken", 0)), int(params["maxResults"])
        page: dict[str, Any] = {key or _key(operation): items[start : start + size]}
        if start + size < len(items):
            page["nextToken"] = str(start + size)
        return page

    def count(self, operation: str) -> int:
        return sum(1 for called, _ in self.calls if called == operation)


def _key(operation: str) -> str:
    return list_member(operation)


def collaboration(cid: str = "c1", membership: str = "m1") -> Collaboration:
    return Collaboration(cid, "name", "444444444444", "Partner", "ACTIVE", membership, 0.0, 0.0)


def parent(*collaborations: Collaboration) -> PollData:
    """The collaborations collector's data a fan-out collector polls from."""
    found = collaborations or (collaboration(),)
    return PollData(found, {"ACTIVE": len(found)}, None)


def context(
    aws: StubAws,
    previous: Any = None,
    *,
    now: float = 1_800_000_000.0,
    options: dict[str, Any] | None = None,
    collaborations: tuple[Collaboration, ...] = (),
) -> PollContext:
    return PollContext(aws, parent(*collaborations), None, 1000, now, previous, options or {})
