"""Page through ListCollaborations and turn its summaries into validated model objects."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from exporter.config import MEMBER_STATUSES
from exporter.model import Collaboration, PollData

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # the API maximum: fewest calls per poll
# 1,000 pages is 100,000 collaborations for one member in one region, far past
# any real account; more means the API (or something in front of it) is broken.
MAX_PAGES = 1000
LABEL_STRING_FIELDS = ("id", "name", "creatorAccountId", "memberStatus")


class FetchError(Exception):
    """The API answered, but not with something a correct poll can be built from."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def list_collaborations(
    client: Any, member_status: str | None = None, max_pages: int = MAX_PAGES
) -> tuple[list[Mapping[str, Any]], int]:
    """Return every summary and the number of pages it took; ceil(n/100) calls, never more."""
    params: dict[str, Any] = {"maxResults": PAGE_SIZE}
    if member_status:
        params["memberStatus"] = member_status
    summaries: list[Mapping[str, Any]] = []
    seen_tokens: set[str] = set()
    for page in range(1, max_pages + 1):
        response = _call(client, params)
        items = response.get("collaborationList")
        if not isinstance(items, list):
            raise FetchError("InvalidResponse", "response has no collaborationList")
        summaries.extend(items)
        token = response.get("nextToken")
        if not token:
            return summaries, page
        if not isinstance(token, str):
            raise FetchError("InvalidResponse", "nextToken is not a string")
        if token in seen_tokens:
            raise FetchError("RepeatedNextToken", f"nextToken repeated on page {page}")
        seen_tokens.add(token)
        params["nextToken"] = token
    raise FetchError("TooManyPages", f"more than {max_pages} pages; giving up")


def _call(client: Any, params: dict[str, Any]) -> Mapping[str, Any]:
    try:
        response = client.list_collaborations(**params)
    except (ValueError, TypeError, AttributeError, KeyError) as err:
        # botocore's parser raises these on bodies that do not fit the API's shape.
        raise FetchError("InvalidResponse", f"unparseable response: {err}") from err
    if not isinstance(response, Mapping):
        raise FetchError("InvalidResponse", "response is not an object")
    return response


def build_poll_data(
    summaries: Iterable[Mapping[str, Any]], pages: int, member_status: str | None
) -> PollData:
    """Validate summaries into collaborations; bad items are skipped and counted, not guessed."""
    collaborations: list[Collaboration] = []
    invalid = 0
    for item in summaries:
        collaboration = parse_summary(item)
        if collaboration is None:
            invalid += 1
        elif member_status is None or collaboration.member_status == member_status:
            collaborations.append(collaboration)
    if invalid:
        log.warning("skipped %d malformed collaboration summaries", invalid)
    return PollData(
        collaborations=tuple(collaborations),
        counts=count_statuses(collaborations, member_status),
        oldest_invitation=min(
            (c.create_time for c in collaborations if c.member_status == "INVITED"), default=None
        ),
        invalid_items=invalid,
        pages=pages,
    )


def count_statuses(
    collaborations: Iterable[Collaboration], member_status: str | None
) -> dict[str, int]:
    """Counts by status; the known statuses (or the filtered one) are always present."""
    counts: Counter[str] = Counter(c.member_status for c in collaborations)
    for status in (member_status,) if member_status else MEMBER_STATUSES:
        counts.setdefault(status, 0)
    return dict(sorted(counts.items()))


def parse_summary(item: Any) -> Collaboration | None:
    """One CollaborationSummary, or None when a required field is missing or of a wrong type."""
    if not isinstance(item, Mapping):
        return None
    if not all(isinstance(item.get(k), str) and item.get(k) for k in LABEL_STRING_FIELDS):
        return None
    created = _timestamp(item.get("createTime"))
    updated = _timestamp(item.get("updateTime"))
    if created is None or updated is None:
        return None
    display = item.get("creatorDisplayName")
    membership = item.get("membershipId")
    return Collaboration(
        id=item["id"],
        name=item["name"],
        creator_account_id=item["creatorAccountId"],
        creator_display_name=display if isinstance(display, str) else "",
        member_status=item["memberStatus"],
        membership_id=membership if isinstance(membership, str) else "",
        create_time=created,
        update_time=updated,
    )


def _timestamp(value: Any) -> float | None:
    # botocore parses the timestamp shape into an aware datetime; anything else is malformed.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.timestamp()
    return None
