"""What every store of the fake shares: requests, error answers, pages, lookups, the registry.

A resource's fake is one ``*_store`` module: a ``Store`` subclass that holds its items,
says which operations it answers (``routes``) and registers itself with ``@register``;
``service.FakeCleanRooms`` finds the modules, builds one of each store and routes every
request it implements to it. Needs moto (the demo extra).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

PAGE_MAX = 100


class ErrorAnswer(Exception):
    """An error answer in the API's own format."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Request:
    """One API request the fake answers: who sent it, and its parameters."""

    operation: str
    account_id: str
    region: str
    path: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)  # a POST's JSON members


Handler = Callable[[Request], dict[str, Any]]
# botocore's service name (cleanrooms, cleanroomsml) and an operation of it.
Route = tuple[str, str]


class Store:
    """One resource's fake: its items, and the operations it answers.

    ``name`` is how tests and the demo reach it on the server (``fake.analyses``).
    """

    name: ClassVar[str]

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def routes(self) -> dict[Route, Handler]:
        raise NotImplementedError


STORES: list[type[Store]] = []
S = TypeVar("S", bound=type[Store])


def register(store: S) -> S:
    """Make ``store`` part of every fake server (node_exporter's registerCollector)."""
    STORES.append(store)
    return store


def paginate(items: list[Any], query: dict[str, str], key: str) -> dict[str, Any]:
    """One page of ``items`` under ``key``; the token is the next offset, as a string."""
    try:
        size = int(query.get("maxResults", PAGE_MAX))
        start = int(query.get("nextToken", "0"))
    except ValueError as err:
        raise ErrorAnswer(400, "ValidationException", "invalid maxResults or nextToken") from err
    if not 1 <= size <= PAGE_MAX or start < 0:
        raise ErrorAnswer(400, "ValidationException", "maxResults must be between 1 and 100")
    page: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        page["nextToken"] = str(start + size)
    return page


def moto_backend(request: Request) -> Any:
    """moto's Clean Rooms backend of the request's account and region."""
    from moto.cleanrooms.models import cleanrooms_backends  # noqa: PLC0415 (demo extra)

    return cleanrooms_backends[request.account_id][request.region]


def known_collaboration(request: Request, collaboration_id: str) -> None:
    if collaboration_id not in moto_backend(request).collaborations:
        raise ErrorAnswer(404, "ResourceNotFoundException", f"collaboration {collaboration_id}")


def known_membership(request: Request, membership_id: str) -> None:
    if membership_id not in moto_backend(request).memberships:
        raise ErrorAnswer(404, "ResourceNotFoundException", f"membership {membership_id}")
