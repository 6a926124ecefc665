"""The collaborations collector: ListCollaborations, its parse, and its metric families.

The primary collector: every fan-out collector needs the ACTIVE collaborations it
finds (``needs="collaborations"``), its state is the target's own (``cleanrooms_target_*``)
and it is always on. Sample output::

    # HELP cleanrooms_collaborations Collaborations of this member by member status. Polled ...
    # TYPE cleanrooms_collaborations gauge
    cleanrooms_collaborations{account_id="111111111111",member_status="ACTIVE",region="eu-west-2"} 3
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client.core import InfoMetricFamily, Metric

from exporter.collectors.base import (
    AgeSpec,
    CollectorSpec,
    Fresh,
    OutputSettings,
    PollContext,
    Probe,
    epoch_seconds,
)
from exporter.collectors.paging import MAX_PAGES, list_all
from exporter.core.errors import ApiError
from exporter.core.families import POLLED, TARGET_LABELS, gauge, label
from exporter.core.model import CollectorState

log = logging.getLogger(__name__)

NAME = "collaborations"
OPERATION = "ListCollaborations"
MEMBER_STATUSES = ("INVITED", "ACTIVE", "LEFT", "REMOVED")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Collaboration:
    """The fields of one ListCollaborations summary that the exporter uses."""

    id: str
    name: str
    creator_account_id: str
    creator_display_name: str
    member_status: str
    membership_id: str
    create_time: float
    update_time: float


@dataclass(frozen=True, slots=True)
class PollData:
    """The collaborations one successful poll returned, with counts computed once."""

    collaborations: tuple[Collaboration, ...]
    counts: Mapping[str, int]
    oldest_invitation: float | None  # createTime of the oldest INVITED collaboration
    invalid_items: int = 0
    pages: int = 0


TargetState = CollectorState[PollData]


def active(data: PollData | None) -> tuple[Collaboration, ...]:
    """The ACTIVE collaborations to fan out to, from data already polled: no extra call."""
    if data is None:
        return ()
    return tuple(c for c in data.collaborations if c.member_status == "ACTIVE")


def active_ids(data: PollData | None) -> frozenset[str]:
    """Ids of the ACTIVE collaborations in a collaborations poll (none without data)."""
    return frozenset(c.id for c in active(data))


def active_only(fresh: Fresh, by_collaboration: Mapping[str, T]) -> list[tuple[str, T]]:
    """Per-collaboration entries whose collaboration is still ACTIVE, sorted by id."""
    ids = active_ids(fresh.needed)
    return sorted((cid, v) for cid, v in by_collaboration.items() if cid in ids)


def list_per_collaboration(
    context: PollContext, operation: str, list_key: str, params: Mapping[str, Any]
) -> dict[str, list[Any]]:
    """``operation`` once per ACTIVE collaboration (each paged), items by collaboration id.

    A collaboration deleted since the collaborations poll answers ResourceNotFound: it is
    skipped, as its series would vanish anyway. Any other error fails the whole poll.
    """

    def fetch(collaboration: Collaboration) -> list[Any]:
        request = {**params, "collaborationIdentifier": collaboration.id}
        return list_all(context.client, operation, list_key, request, context.max_pages)[0]

    return _each_active(context, operation, fetch, lambda c: c.id)


def per_membership(
    context: PollContext, operation: str, fetch: Callable[[Collaboration], T]
) -> dict[str, T]:
    """``fetch`` once per ACTIVE collaboration's membership, results by collaboration id.

    Series stay keyed by collaboration, so they vanish with it (``active_only``). A
    membership gone since the collaborations poll answers ResourceNotFound: it is
    skipped, as its series would vanish anyway. Any other error fails the whole poll.
    """
    return _each_active(context, operation, fetch, lambda c: c.membership_id)


def _each_active(
    context: PollContext,
    operation: str,
    fetch: Callable[[Collaboration], T],
    resource: Callable[[Collaboration], str],
) -> dict[str, T]:
    results: dict[str, T] = {}
    for collaboration in active(context.needed):
        if not resource(collaboration):
            continue  # an ACTIVE summary always names its membership; nothing to ask otherwise
        try:
            results[collaboration.id] = fetch(collaboration)
        except ApiError as err:
            if err.code != "ResourceNotFoundException":
                raise
            log.info("%s: %s is gone; skipped", operation, resource(collaboration))
    return results


def list_collaborations(
    client: Any, member_status: str | None = None, max_pages: int = MAX_PAGES
) -> tuple[list[Any], int]:
    """Return every summary and the number of pages it took; ceil(n/100) calls, never more."""
    params = {"memberStatus": member_status} if member_status else {}
    return list_all(client, OPERATION, "collaborationList", params, max_pages)


def poll(context: PollContext) -> PollData:
    """One full ListCollaborations listing of the target."""
    summaries, pages = list_collaborations(context.client, context.member_status, context.max_pages)
    return build_poll_data(summaries, pages, context.member_status)


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
    """One CollaborationSummary, or None when a required field is missing or of a wrong type.

    Runs for every summary of every poll, so it is written out flat: one lookup per
    field, no generator, and the ABC check only for a mapping that is not a dict.
    """
    if type(item) is not dict and not isinstance(item, Mapping):
        return None
    get = item.get
    labels: tuple[Any, ...] = (get("id"), get("name"), get("creatorAccountId"), get("memberStatus"))
    for value in labels:
        if not isinstance(value, str) or not value:
            return None
    created = epoch_seconds(get("createTime"))
    if created is None:
        return None
    updated = epoch_seconds(get("updateTime"))
    if updated is None:
        return None
    collaboration_id, name, creator, member_status = labels
    display = get("creatorDisplayName")
    membership = get("membershipId")
    return Collaboration(
        collaboration_id,
        name,
        creator,
        display if isinstance(display, str) else "",
        member_status,
        membership if isinstance(membership, str) else "",
        created,
        updated,
    )


def families(fresh: Sequence[Fresh], settings: OutputSettings) -> list[Metric]:
    """Collaboration state of targets with fresh data; untrusted counts only with an allow-list."""
    counts = gauge(
        "cleanrooms_collaborations",
        "Collaborations of this member by member status.",
        (*TARGET_LABELS, "member_status"),
    )
    for item in fresh:
        data: PollData = item.data
        for status, count in data.counts.items():
            counts.add_metric([*item.key, label(status)], count)
    built: list[Metric] = [counts]
    if settings.trusted is not None:
        built.append(_untrusted(fresh, frozenset(settings.trusted)))
    if settings.per_collaboration_metrics:
        built.extend(_per_collaboration(fresh))
    return built


def _untrusted(fresh: Sequence[Fresh], trusted: frozenset[str]) -> Metric:
    family = gauge(
        "cleanrooms_untrusted_pending_invitations",
        "INVITED collaborations whose creator account is not in trusted_creator_accounts.",
    )
    for item in fresh:
        data: PollData = item.data
        untrusted = sum(
            1
            for c in data.collaborations
            if c.member_status == "INVITED" and c.creator_account_id not in trusted
        )
        family.add_metric(list(item.key), untrusted)
    return family


def _per_collaboration(fresh: Sequence[Fresh]) -> list[Metric]:
    keys = (*TARGET_LABELS, "collaboration_id", "member_status")
    info = InfoMetricFamily(
        "cleanrooms_collaboration",
        f"Descriptive labels of each collaboration, value 1. {POLLED}",
        labels=[*TARGET_LABELS, "collaboration_id"],
    )
    created = gauge(
        "cleanrooms_collaboration_created_timestamp_seconds",
        "When the collaboration was created, in Unix seconds.",
        keys,
    )
    updated = gauge(
        "cleanrooms_collaboration_updated_timestamp_seconds",
        "When the collaboration was last updated, in Unix seconds.",
        keys,
    )
    for item in fresh:
        data: PollData = item.data
        for c in data.collaborations:
            ids = [*item.key, label(c.id)]
            info.add_metric(ids, _info_labels(c))
            created.add_metric([*ids, label(c.member_status)], c.create_time)
            updated.add_metric([*ids, label(c.member_status)], c.update_time)
    return [info, created, updated]


def _info_labels(c: Collaboration) -> dict[str, str]:
    return {
        "collaboration_name": label(c.name),
        "creator_account_id": label(c.creator_account_id),
        "creator_display_name": label(c.creator_display_name),
        "member_status": label(c.member_status),
        "membership_id": label(c.membership_id),
    }


def _first_active(answer: Mapping[str, Any]) -> Collaboration | None:
    found = (parse_summary(item) for item in answer.get("collaborationList") or ())
    return next((c for c in found if c is not None and c.member_status == "ACTIVE"), None)


def _oldest_invitation(item: Fresh) -> list[tuple[tuple[str, ...], float | None]]:
    data: PollData = item.data
    return [((), data.oldest_invitation)]


SPEC = CollectorSpec(
    name=NAME,
    doc="Collaborations and invitations of the member; always on.",
    operations=(OPERATION,),
    default_enabled=True,
    default_interval=None,
    poll=poll,
    families=families,
    ages=(
        AgeSpec(
            "cleanrooms_pending_invitations_oldest_age_seconds",
            "Age of the oldest collaboration whose member status is INVITED; 0 when none.",
            (),
            _oldest_invitation,
        ),
    ),
    primary=True,
    missing_code="NoCollaborationData",
    # One ACTIVE collaboration proves access and gives the fan-out probes their subject.
    probe=Probe(lambda _: {"memberStatus": "ACTIVE"}, _first_active),
)
