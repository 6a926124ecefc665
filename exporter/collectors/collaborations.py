"""The collaborations collector: ListCollaborations, its parse, and its metric families.

The primary collector: every fan-out collector fans out from the ACTIVE collaborations it
finds (``fans_out_from="collaborations"``), its state is the target's own (``cleanrooms_target_*``)
and it is always on. Sample output::

    # HELP cleanrooms_collaborations Collaborations of this member by member status. Polled ...
    # TYPE cleanrooms_collaborations gauge
    cleanrooms_collaborations{account_id="111111111111",member_status="ACTIVE",region="eu-west-2"} 3
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from exporter.collectors.base import (
    AgeSpec,
    Calls,
    CollectorSpec,
    PollContext,
    Polling,
    Probe,
    Rendering,
    Shown,
    TargetData,
    epoch_seconds,
)
from exporter.collectors.paging import MAX_PAGES, list_all
from exporter.collectors.status_counts import StatusRules, count
from exporter.core.errors import ApiError
from exporter.core.series import Family, OutputSettings, Samples, gauge, label

log = logging.getLogger(__name__)

NAME = "collaborations"
OPERATION = "ListCollaborations"
MEMBER_STATUSES = ("INVITED", "ACTIVE", "LEFT", "REMOVED")
ENGINES = ("CLEAN_ROOMS_SQL", "SPARK")  # the model's AnalyticsEngine values
UNKNOWN_ENGINE = "unknown"
# The labels of a fan-out collector's series of one membership, after the target's.
MEMBERSHIP_LABELS = ("membership_id", "collaboration_id")
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
    analytics_engine: str = ""  # SPARK or CLEAN_ROOMS_SQL; "" when the summary has none


@dataclass(frozen=True, slots=True)
class PollData:
    """The collaborations one successful poll returned, with counts computed once."""

    collaborations: tuple[Collaboration, ...]
    counts: Mapping[str, int]
    oldest_invitation: float | None  # createTime of the oldest INVITED collaboration
    # Per member status: counts by analytics engine (ENGINES always present).
    engines: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    invalid_items: int = 0
    pages: int = 0


class OfMembership(Protocol):
    """A fan-out collector's record of one membership."""

    @property
    def membership_id(self) -> str: ...


M = TypeVar("M", bound=OfMembership)


def active(data: PollData | None) -> tuple[Collaboration, ...]:
    """The ACTIVE collaborations to fan out to, from data already polled: no extra call."""
    if data is None:
        return ()
    return tuple(c for c in data.collaborations if c.member_status == "ACTIVE")


def active_ids(data: PollData | None) -> frozenset[str]:
    """Ids of the ACTIVE collaborations in a collaborations poll (none without data)."""
    return frozenset(c.id for c in active(data))


def active_only(item: TargetData[Any], by_collaboration: Mapping[str, T]) -> list[tuple[str, T]]:
    """Per-collaboration entries whose collaboration is still ACTIVE, sorted by id."""
    ids = active_ids(item.parent)
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


def each_membership(
    context: PollContext,
    operation: str,
    previous: Mapping[str, M],
    fetch: Callable[[Collaboration, M | None], M],
) -> dict[str, M]:
    """``per_membership``, each fetch handed its membership's record of the last good poll.

    A collaboration whose membership changed (left and joined again) starts afresh.
    """

    def one(collaboration: Collaboration) -> M:
        old = previous.get(collaboration.id)
        if old is not None and old.membership_id != collaboration.membership_id:
            old = None
        return fetch(collaboration, old)

    return per_membership(context, operation, one)


def _each_active(
    context: PollContext,
    operation: str,
    fetch: Callable[[Collaboration], T],
    resource: Callable[[Collaboration], str],
) -> dict[str, T]:
    results: dict[str, T] = {}
    for collaboration in active(context.parent):
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
        engines=count_engines(collaborations, member_status),
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
    rules = StatusRules((member_status,) if member_status else MEMBER_STATUSES)
    return count(rules, (c.member_status for c in collaborations))


def count_engines(
    collaborations: Iterable[Collaboration], member_status: str | None
) -> dict[str, dict[str, int]]:
    """Per member status (as ``count_statuses`` has them), counts by analytics engine:
    SPARK and CLEAN_ROOMS_SQL always present, ``unknown`` for a summary without one."""
    found = list(collaborations)
    rules = StatusRules(ENGINES)
    return {
        status: count(
            rules,
            (c.analytics_engine or UNKNOWN_ENGINE for c in found if c.member_status == status),
        )
        for status in count_statuses(found, member_status)
    }


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
    engine = get("analyticsEngine")
    return Collaboration(
        collaboration_id,
        name,
        creator,
        display if isinstance(display, str) else "",
        member_status,
        membership if isinstance(membership, str) else "",
        created,
        updated,
        engine if isinstance(engine, str) else "",
    )


UNTRUSTED = gauge(
    "cleanrooms_untrusted_pending_invitations",
    "INVITED collaborations whose creator account is not in trusted_creator_accounts.",
    when=lambda settings: settings.trusted is not None,
)


def _per_collaboration(settings: OutputSettings) -> bool:
    return settings.per_collaboration_metrics


COUNTS = gauge(
    "cleanrooms_collaborations",
    "Collaborations of this member by member status.",
    "member_status",
    values=(("member_status", MEMBER_STATUSES),),
)
BY_ENGINE = gauge(
    "cleanrooms_collaborations_by_analytics_engine",
    "Collaborations of this member by member status and analytics engine (SPARK, "
    "CLEAN_ROOMS_SQL; unknown when the summary names none).",
    "member_status",
    "analytics_engine",
)
INFO = Family(
    "cleanrooms_collaboration",
    "info",
    "Descriptive labels of each collaboration, value 1.",
    ("collaboration_id",),
    info=(
        "collaboration_name",
        "creator_account_id",
        "creator_display_name",
        "member_status",
        "membership_id",
        "analytics_engine",
    ),
    when=_per_collaboration,
)
CREATED = gauge(
    "cleanrooms_collaboration_created_timestamp_seconds",
    "When the collaboration was created, in Unix seconds.",
    "collaboration_id",
    "member_status",
    when=_per_collaboration,
)
UPDATED = gauge(
    "cleanrooms_collaboration_updated_timestamp_seconds",
    "When the collaboration was last updated, in Unix seconds.",
    "collaboration_id",
    "member_status",
    when=_per_collaboration,
)


def samples(item: TargetData[PollData], settings: OutputSettings, out: Samples) -> None:
    """Collaboration state; untrusted counts only with an allow-list."""
    data = item.data
    for status, number in data.counts.items():
        out.add(COUNTS, (label(status),), number)
    for status, engines in data.engines.items():
        for engine, number in engines.items():
            out.add(BY_ENGINE, (label(status), label(engine)), number)
    if settings.trusted is not None:
        out.add(UNTRUSTED, (), _untrusted(data, frozenset(settings.trusted)))
    if not settings.per_collaboration_metrics:
        return
    for c in data.collaborations:
        out.add(INFO, (label(c.id),), _info_labels(c))
        out.add(CREATED, (label(c.id), label(c.member_status)), c.create_time)
        out.add(UPDATED, (label(c.id), label(c.member_status)), c.update_time)


def _untrusted(data: PollData, trusted: frozenset[str]) -> int:
    return sum(
        1
        for c in data.collaborations
        if c.member_status == "INVITED" and c.creator_account_id not in trusted
    )


def _info_labels(c: Collaboration) -> dict[str, str]:
    return {
        "collaboration_name": label(c.name),
        "creator_account_id": label(c.creator_account_id),
        "creator_display_name": label(c.creator_display_name),
        "member_status": label(c.member_status),
        "membership_id": label(c.membership_id),
        "analytics_engine": label(c.analytics_engine or UNKNOWN_ENGINE),
    }


def _first_active(answer: Mapping[str, Any]) -> Collaboration | None:
    found = (parse_summary(item) for item in answer.get("collaborationList") or ())
    return next((c for c in found if c is not None and c.member_status == "ACTIVE"), None)


def _oldest_invitation(item: TargetData[PollData]) -> list[tuple[tuple[str, ...], float | None]]:
    return [((), item.data.oldest_invitation)]


SPEC: CollectorSpec[PollData] = CollectorSpec(
    name=NAME,
    doc="Collaborations and invitations of the member; always on.",
    order=10,
    polling=Polling(
        poll=poll,
        operations=(OPERATION,),
        calls=Calls("⌈C / 100⌉, at least 1 (C = collaborations)", per_target=1),
        default_enabled=True,
        primary=True,
        no_data_code="NoCollaborationData",
    ),
    rendering=Rendering(
        families=(COUNTS, BY_ENGINE, UNTRUSTED, INFO, CREATED, UPDATED),
        samples=samples,
        ages=(
            AgeSpec(
                "cleanrooms_pending_invitations_oldest_age_seconds",
                "Age of the oldest collaboration whose member status is INVITED; 0 when none.",
                (),
                _oldest_invitation,
            ),
        ),
    ),
    # One ACTIVE collaboration proves access and gives the fan-out probes their subject.
    shown=Shown(probe=Probe(lambda _: {"memberStatus": "ACTIVE"}, _first_active)),
)
