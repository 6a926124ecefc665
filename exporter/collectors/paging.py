"""Page through any Clean Rooms list operation: fewest calls, and guards against a broken API."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

PAGE_SIZE = 100  # the API maximum of every Clean Rooms list operation: fewest calls per poll
# 1,000 pages is 100,000 items for one target, far past any real account; more
# means the API (or something in front of it) is broken.
MAX_PAGES = 1000


@dataclass(frozen=True)
class Tokens:
    """How an API names its page size and next-page token (Service Quotas capitalises them)."""

    size: str = "maxResults"
    token: str = "nextToken"  # noqa: S105 (a parameter's name, not a secret)


REST = Tokens()


class FetchError(Exception):
    """The API answered, but not with something a correct poll can be built from."""

    def __init__(self, code: str, message: str, operation: str) -> None:
        super().__init__(message)
        self.code = code
        self.operation = operation


def pages(
    client: Any,
    operation: str,
    list_key: str,
    params: Mapping[str, Any],
    max_pages: int,
    *,
    tokens: Tokens = REST,
) -> Iterator[list[Any]]:
    """Each page's items in turn, at ``maxResults=100``: stops after the last page.

    Raises ``FetchError`` on a page without ``list_key``, a broken or repeated token, or
    more than ``max_pages`` pages; a caller that stops early makes no further call.
    """
    request: dict[str, Any] = {**params, tokens.size: PAGE_SIZE}
    seen_tokens: set[str] = set()
    for page in range(1, max_pages + 1):
        response = _call(client, operation, request)
        page_items = response.get(list_key)
        if not isinstance(page_items, list):
            raise FetchError("InvalidResponse", f"response has no {list_key}", operation)
        yield page_items
        token = _next_token(response, seen_tokens, page, operation, tokens.token)
        if token is None:
            return
        request[tokens.token] = token
    raise FetchError("TooManyPages", f"more than {max_pages} pages; giving up", operation)


def list_all(
    client: Any,
    operation: str,
    list_key: str,
    params: Mapping[str, Any],
    max_pages: int = MAX_PAGES,
    *,
    tokens: Tokens = REST,
) -> tuple[list[Any], int]:
    """Every item of ``operation`` and the number of pages: ceil(n/100) calls, at least one.

    ``operation`` is the AWS name (``ListMembers``); ``client.call`` makes one request.
    """
    items: list[Any] = []
    count = 0
    for page_items in pages(client, operation, list_key, params, max_pages, tokens=tokens):
        items.extend(page_items)
        count += 1
    return items, count


@dataclass(frozen=True)
class Recent:
    """The newest items of a newest-first listing, down to a cutoff."""

    items: list[Any]
    pages: int
    truncated: bool  # max_pages was reached before the cutoff or the last page


def list_recent(
    client: Any,
    operation: str,
    list_key: str,
    params: Mapping[str, Any],
    *,
    created: Callable[[Any], float | None],
    cutoff: float,
    max_pages: int = MAX_PAGES,
) -> Recent:
    """Items of a listing sorted newest first, created at or after ``cutoff``.

    Paging stops at the first item older than ``cutoff`` (everything after it is
    older still), at the last page, or after ``max_pages`` pages. An item whose
    ``created`` is None (malformed) is kept for the caller to skip and count.
    """
    items: list[Any] = []
    count = 0
    listing = pages(client, operation, list_key, params, max_pages)
    try:
        for page_items in listing:
            count += 1
            for item in page_items:
                when = created(item)
                if when is not None and when < cutoff:
                    return Recent(items, count, truncated=False)
                items.append(item)
    except FetchError as err:
        if err.code != "TooManyPages":
            raise
        return Recent(items, max_pages, truncated=True)
    return Recent(items, count, truncated=False)


def _next_token(
    response: Mapping[str, Any], seen_tokens: set[str], page: int, operation: str, key: str
) -> str | None:
    """The token of the next page, None after the last; a broken token is an error."""
    token = response.get(key)
    if not token:
        return None
    if not isinstance(token, str):
        raise FetchError("InvalidResponse", f"{key} is not a string", operation)
    if token in seen_tokens:
        raise FetchError("RepeatedNextToken", f"{key} repeated on page {page}", operation)
    seen_tokens.add(token)
    return token


def _call(client: Any, operation: str, params: dict[str, Any]) -> Mapping[str, Any]:
    try:
        response = client.call(operation, **params)
    except (ValueError, TypeError, AttributeError, KeyError) as err:
        # botocore's parser raises these on bodies that do not fit the API's shape.
        raise FetchError("InvalidResponse", f"unparseable response: {err}", operation) from err
    if not isinstance(response, Mapping):
        raise FetchError("InvalidResponse", "response is not an object", operation)
    return response
