"""What every handler of the fake Clean Rooms shares: requests, errors, pages, lookups.

Kept apart from the server (``fake_cleanrooms``) so stores of more resources
(``fake_analyses``) can use it without an import cycle. Needs moto (the demo extra).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PAGE_MAX = 100


class ApiError(Exception):
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


Handler = Callable[[Request], dict[str, Any]]


def paginate(items: list[Any], query: dict[str, str], key: str) -> dict[str, Any]:
    """One page of ``items`` under ``key``; the token is the next offset, as a string."""
    try:
        size = int(query.get("maxResults", PAGE_MAX))
        start = int(query.get("nextToken", "0"))
    except ValueError as err:
        raise ApiError(400, "ValidationException", "invalid maxResults or nextToken") from err
    if not 1 <= size <= PAGE_MAX or start < 0:
        raise ApiError(400, "ValidationException", "maxResults must be between 1 and 100")
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
        raise ApiError(404, "ResourceNotFoundException", f"collaboration {collaboration_id}")


def known_membership(request: Request, membership_id: str) -> None:
    if membership_id not in moto_backend(request).memberships:
        raise ApiError(404, "ResourceNotFoundException", f"membership {membership_id}")
