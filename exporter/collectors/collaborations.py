"""The collaborations collector: ListCollaborations, its parse, and its metric families.

Every other collector fans out from the ACTIVE collaborations this one finds. Its
state is the target's own (``cleanrooms_target_*``), and its per-target lines are
cached by the exposition renderer. Sample output::

    # HELP cleanrooms_collaborations Collaborations of this member by member status. Polled ...
    # TYPE cleanrooms_collaborations gauge
    cleanrooms_collaborations{account_id="111111111111",member_status="ACTIVE",region="eu-west-2"} 3
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from prometheus_client.core import InfoMetricFamily, Metric

from exporter.collectors.base import CollectorSpec, Fresh, PollContext, epoch_seconds
from exporter.collectors.paging import MAX_PAGES, list_all
from exporter.core.model import MEMBER_STATUSES, Collaboration, PollData, TargetState
from exporter.metrics.families import POLLED, TARGET_LABELS, gauge, label

log = logging.getLogger(__name__)

OPERATION = "ListCollaborations"


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


def data_families(
    states: Iterable[TargetState], trusted: Collection[str] | None, per_collaboration: bool
) -> list[Metric]:
    """Collaboration state of targets with fresh data; ``trusted`` None: no allow-list set."""
    states = list(states)
    counts = gauge(
        "cleanrooms_collaborations",
        "Collaborations of this member by member status.",
        (*TARGET_LABELS, "member_status"),
    )
    for state in states:
        assert state.data is not None  # only fresh targets are passed in
        for status, count in state.data.counts.items():
            counts.add_metric([*state.target.key, label(status)], count)
    families: list[Metric] = [counts]
    if trusted is not None:
        families.append(_untrusted(states, frozenset(trusted)))
    if per_collaboration:
        families.extend(_per_collaboration(states))
    return families


def age_family(states: Iterable[TargetState], now: float) -> Metric:
    """Oldest invitation age at ``now``: it grows between polls, so it is never cached."""
    oldest = gauge(
        "cleanrooms_pending_invitations_oldest_age_seconds",
        "Age of the oldest collaboration whose member status is INVITED; 0 when none.",
    )
    for state in states:
        assert state.data is not None
        first = state.data.oldest_invitation
        # Clamped: a clock behind AWS's would otherwise give a negative age.
        oldest.add_metric(list(state.target.key), max(0.0, now - first) if first else 0.0)
    return oldest


def _untrusted(states: list[TargetState], trusted: frozenset[str]) -> Metric:
    family = gauge(
        "cleanrooms_untrusted_pending_invitations",
        "INVITED collaborations whose creator account is not in trusted_creator_accounts.",
    )
    for state in states:
        assert state.data is not None
        untrusted = sum(
            1
            for c in state.data.collaborations
            if c.member_status == "INVITED" and c.creator_account_id not in trusted
        )
        family.add_metric(list(state.target.key), untrusted)
    return family


def _per_collaboration(states: list[TargetState]) -> list[Metric]:
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
    for state in states:
        assert state.data is not None
        for c in state.data.collaborations:
            ids = [*state.target.key, label(c.id)]
            info.add_metric(
                ids,
                {
                    "collaboration_name": label(c.name),
                    "creator_account_id": label(c.creator_account_id),
                    "creator_display_name": label(c.creator_display_name),
                    "member_status": label(c.member_status),
                    "membership_id": label(c.membership_id),
                },
            )
            created.add_metric([*ids, label(c.member_status)], c.create_time)
            updated.add_metric([*ids, label(c.member_status)], c.update_time)
    return [info, created, updated]


def _no_families(_: Sequence[Fresh]) -> list[Metric]:
    # Its families depend on settings (allow-list, per-collaboration series) and are
    # cached per target by the renderer through data_families() and age_family().
    return []


SPEC = CollectorSpec(
    name="collaborations",
    doc="Collaborations and invitations of the member; always on.",
    operations=(OPERATION,),
    default_enabled=True,
    default_interval=None,
    fan_out=False,
    poll=poll,
    families=_no_families,
)
