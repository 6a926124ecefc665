"""The memberships collector: ListMemberships, every status, one listing per target.

Sample output::

    # HELP cleanrooms_memberships Memberships of the account by status. Polled ...
    # TYPE cleanrooms_memberships gauge
    cleanrooms_memberships{account_id="111111111111",region="us-east-1",status="ACTIVE"} 2
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from exporter.collectors.base import (
    Calls,
    CollectorSpec,
    PollContext,
    Polling,
    Rendering,
    TargetData,
)
from exporter.collectors.paging import list_all
from exporter.collectors.status_counts import StatusRules, count
from exporter.core.series import Family, OutputSettings, Samples, gauge, label

log = logging.getLogger(__name__)

OPERATION = "ListMemberships"
STATUSES = StatusRules(("ACTIVE", "REMOVED", "COLLABORATION_DELETED"))


@dataclass(frozen=True, slots=True)
class Membership:
    """The fields of one MembershipSummary that the exporter uses."""

    id: str
    collaboration_id: str
    collaboration_name: str
    status: str
    query_compute_payer: bool
    # Who pays for the rest; an absent configuration means this member does not.
    job_compute_payer: bool = False
    ml_training_payer: bool = False
    ml_inference_payer: bool = False


@dataclass(frozen=True, slots=True)
class MembershipsData:
    """One target's memberships, with counts by status computed once."""

    memberships: tuple[Membership, ...]
    counts: Mapping[str, int]
    invalid_items: int = 0


def poll(context: PollContext) -> MembershipsData:
    """ListMemberships without a status filter: ceil(memberships/100) calls, at least one."""
    summaries, _ = list_all(context.client, OPERATION, "membershipSummaries", {}, context.max_pages)
    return build(summaries)


def build(summaries: Iterable[Any]) -> MembershipsData:
    """Validate summaries; a malformed one is skipped and counted, never guessed."""
    items = list(summaries)
    memberships = [m for m in map(parse_summary, items) if m is not None]
    invalid = len(items) - len(memberships)
    if invalid:
        log.warning("skipped %d malformed membership summaries", invalid)
    counts = count(STATUSES, (m.status for m in memberships))
    return MembershipsData(tuple(memberships), counts, invalid)


def parse_summary(item: Any) -> Membership | None:
    """One MembershipSummary, or None when a field the metrics need is missing or wrong.

    Runs for every summary of every poll, so it is written out flat: one lookup per
    field, no generator, and the ABC check only for a mapping that is not a dict.
    """
    if type(item) is not dict and not isinstance(item, Mapping):
        return None
    get = item.get
    labels: tuple[Any, ...] = (
        get("id"),
        get("collaborationId"),
        get("collaborationName"),
        get("status"),
    )
    for value in labels:
        if not isinstance(value, str) or not value:
            return None
    payment: Any = get("paymentConfiguration")
    payer = _responsible(payment, "queryCompute")
    if payer is None:
        return None
    machine_learning = _child(payment, "machineLearning")
    membership_id, collaboration_id, collaboration_name, status = labels
    return Membership(
        membership_id,
        collaboration_id,
        collaboration_name,
        status,
        payer,
        _responsible(payment, "jobCompute") is True,
        _responsible(machine_learning, "modelTraining") is True,
        _responsible(machine_learning, "modelInference") is True,
    )


def _child(value: Any, key: str) -> Any:
    is_map = type(value) is dict or isinstance(value, Mapping)
    return value.get(key) if is_map else None


def _responsible(payment: Any, key: str) -> bool | None:
    """``payment[key].isResponsible``, or None when it is missing or not a boolean."""
    found = _child(_child(payment, key), "isResponsible")
    return found if isinstance(found, bool) else None


COUNTS = gauge(
    "cleanrooms_memberships",
    "Memberships of the account by status.",
    "status",
    values=(("status", STATUSES.statuses),),
)
INFO = Family(
    "cleanrooms_membership",
    "info",
    "Each membership of the account, value 1.",
    ("membership_id",),
    info=("collaboration_id", "collaboration_name", "status", "query_compute_payer"),
)
PAYMENT = Family(
    "cleanrooms_membership_payment",
    "info",
    "Who pays for what, per membership: each label true when this member pays, value 1.",
    ("membership_id", "collaboration_id"),
    info=("query_compute", "job_compute", "ml_training", "ml_inference"),
)


def samples(item: TargetData[MembershipsData], _: OutputSettings, out: Samples) -> None:
    """Counts by status and one info series per membership."""
    data = item.data
    for status, number in data.counts.items():
        out.add(COUNTS, (label(status),), number)
    for m in sorted(data.memberships, key=lambda m: m.id):
        info = {
            "collaboration_id": label(m.collaboration_id),
            "collaboration_name": label(m.collaboration_name),
            "status": label(m.status),
            "query_compute_payer": _word(m.query_compute_payer),
        }
        out.add(INFO, (label(m.id),), info)
        out.add(PAYMENT, (label(m.id), label(m.collaboration_id)), _payers(m))


def _word(value: bool) -> str:
    return "true" if value else "false"


def _payers(m: Membership) -> dict[str, str]:
    return {
        "query_compute": _word(m.query_compute_payer),
        "job_compute": _word(m.job_compute_payer),
        "ml_training": _word(m.ml_training_payer),
        "ml_inference": _word(m.ml_inference_payer),
    }


SPEC: CollectorSpec[MembershipsData] = CollectorSpec(
    name="memberships",
    doc="Memberships of the account by status, with who pays for query compute.",
    order=20,
    polling=Polling(
        poll=poll,
        operations=(OPERATION,),
        calls=Calls("⌈M / 100⌉, at least 1 (M = memberships, every status)", per_target=1),
        default_enabled=True,
    ),
    rendering=Rendering(families=(COUNTS, INFO, PAYMENT), samples=samples),
)
