"""Page through any Clean Rooms list operation: fewest calls, and guards against a broken API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PAGE_SIZE = 100  # the API maximum of every Clean Rooms list operation: fewest calls per poll
# 1,000 pages is 100,000 items for one target, far past any real account; more
# means the API (or something in front of it) is broken.
MAX_PAGES = 1000


class FetchError(Exception):
    """The API answered, but not with something a correct poll can be built from."""

    def __init__(self, code: str, message: str, operation: str = "ListCollaborations") -> None:
        super().__init__(message)
        self.code = code
        self.operation = operation


def list_all(
    client: Any,
    operation: str,
    list_key: str,
    params: Mapping[str, Any],
    max_pages: int = MAX_PAGES,
) -> tuple[list[Any], int]:
    """Every item of ``operation`` and the number of pages: ceil(n/100) calls, at least one.

    ``operation`` is the AWS name (``ListMembers``); ``client.call`` makes one request.
    """
    request: dict[str, Any] = {**params, "maxResults": PAGE_SIZE}
    items: list[Any] = []
    seen_tokens: set[str] = set()
    for page in range(1, max_pages + 1):
        response = _call(client, operation, request)
        page_items = response.get(list_key)
        if not isinstance(page_items, list):
            raise FetchError("InvalidResponse", f"response has no {list_key}", operation)
        items.extend(page_items)
        token = response.get("nextToken")
        if not token:
            return items, page
        if not isinstance(token, str):
            raise FetchError("InvalidResponse", "nextToken is not a string", operation)
        if token in seen_tokens:
            raise FetchError("RepeatedNextToken", f"nextToken repeated on page {page}", operation)
        seen_tokens.add(token)
        request["nextToken"] = token
    raise FetchError("TooManyPages", f"more than {max_pages} pages; giving up", operation)


def _call(client: Any, operation: str, params: dict[str, Any]) -> Mapping[str, Any]:
    try:
        response = client.call(operation, **params)
    except (ValueError, TypeError, AttributeError, KeyError) as err:
        # botocore's parser raises these on bodies that do not fit the API's shape.
        raise FetchError("InvalidResponse", f"unparseable response: {err}", operation) from err
    if not isinstance(response, Mapping):
        raise FetchError("InvalidResponse", "response is not an object", operation)
    return response
