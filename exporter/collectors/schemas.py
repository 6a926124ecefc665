"""The schemas collector: whether partners can query each table of every ACTIVE collaboration.

``ListSchemas`` of each ACTIVE collaboration (every page) names its tables; the summaries
carry no status, so ``BatchGetSchema`` fetches all of them, 25 names a call, at every poll:
a status can change while the list does not (a partner edits an analysis rule). How a
schema's details make one status is ``schema_status``. Sample output::

    # TYPE cleanrooms_schemas gauge
    cleanrooms_schemas{...,collaboration_id="c1",membership_id="m1",status="NOT_READY"} 1
    # TYPE cleanrooms_schema_not_ready_reason gauge
    cleanrooms_schema_not_ready_reason{...,analysis_rule_type="AGGREGATION",
        reason_code="DIFFERENTIAL_PRIVACY_POLICY_NOT_CONFIGURED",schema_name="orders"} 1

The oldest NOT_READY schema is aged from when this exporter first saw it NOT_READY (the
membership's first poll for one that already was): ``updateTime`` does not move when a
partner changes what the table needs, so it would date the wrong event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from exporter.collectors import collaborations
from exporter.collectors.base import (
    Calls,
    CollectorSpec,
    PollContext,
    Polling,
    Probe,
    Rendering,
    Shown,
    TargetData,
)
from exporter.collectors.collaborations import (
    MEMBERSHIP_LABELS,
    Collaboration,
    active_only,
    each_membership,
)
from exporter.collectors.paging import FetchError, list_all
from exporter.collectors.schema_status import NOT_READY, STATUSES, TYPES, Status, in_words, parse
from exporter.collectors.status_counts import (
    Item,
    StatusFamilies,
    StatusRules,
    Tally,
    count,
    oldest_age,
    tally,
)
from exporter.core.model import FAILING, UNUSABLE, Finding, TargetKey
from exporter.core.series import OutputSettings, Samples, gauge, label

log = logging.getLogger(__name__)

LIST, GET = "ListSchemas", "BatchGetSchema"
BATCH = 25  # names per BatchGetSchema: the model's maximum
MAX_ERROR_CODES = 20  # per membership; the rest as "other"
# Counted by status; the oldest NOT_READY aged (an Item's "created" is when it was first
# seen NOT_READY, see the module's docstring).
RULES = StatusRules(STATUSES, in_progress=(NOT_READY,))


@dataclass(frozen=True, slots=True)
class NotReady:
    """A schema that is NOT_READY: its name, reasons, and since when this exporter knows."""

    name: str
    reasons: tuple[tuple[str, str], ...]
    since: float


@dataclass(frozen=True, slots=True)
class CollaborationSchemas:
    """One ACTIVE collaboration's schemas: by status and type, the NOT_READY ones, errors."""

    membership_id: str
    tally: Tally  # got by BatchGetSchema, by status; oldest_in_progress: the oldest NOT_READY
    by_type: Mapping[str, int]  # listed by ListSchemas, by type
    not_ready: tuple[NotReady, ...] = ()  # sorted by name
    errors: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class SchemasData:
    """One target's schemas per ACTIVE collaboration id."""

    per_collaboration: Mapping[str, CollaborationSchemas]
    invalid_items: int = 0


def poll(context: PollContext) -> SchemasData:
    """Per ACTIVE collaboration: every page of ListSchemas, then BatchGetSchema of each name."""
    previous = context.previous if isinstance(context.previous, SchemasData) else None
    invalid = 0

    def fetch(
        collaboration: Collaboration, old: CollaborationSchemas | None
    ) -> CollaborationSchemas:
        nonlocal invalid
        found, bad = poll_collaboration(context, collaboration, old)
        invalid += bad
        return found

    earlier = previous.per_collaboration if previous is not None else {}
    found = each_membership(context, LIST, earlier, fetch)
    if invalid:
        log.warning("skipped %d malformed schemas", invalid)
    return SchemasData(MappingProxyType(found), invalid)


def poll_collaboration(
    context: PollContext, collaboration: Collaboration, old: CollaborationSchemas | None
) -> tuple[CollaborationSchemas, int]:
    """One collaboration's schemas, and how many answers were malformed."""
    request = {"collaborationIdentifier": collaboration.id}
    summaries, _ = list_all(context.client, LIST, "schemaSummaries", request, context.max_pages)
    names, types, invalid = listed(summaries)
    got: list[Status] = []
    errors: dict[str, int] = {}
    for start in range(0, len(names), BATCH):
        answer = batch_get(context.client, collaboration.id, names[start : start + BATCH])
        invalid += collect(answer, got, errors)
    earlier = {s.name: s.since for s in old.not_ready} if old is not None else {}
    not_ready = tuple(
        NotReady(s.name, s.reasons, earlier.get(s.name, context.now))
        for s in sorted(got, key=lambda s: s.name)
        if s.status == NOT_READY
    )
    since = {s.name: s.since for s in not_ready}
    items = [Item(s.name, s.status, since.get(s.name, context.now)) for s in got]
    found = CollaborationSchemas(
        collaboration.membership_id,
        tally(RULES, items, None),
        MappingProxyType(count(StatusRules(TYPES), types)),
        not_ready,
        MappingProxyType(errors),
    )
    return found, invalid


def listed(summaries: Iterable[Any]) -> tuple[list[str], list[str], int]:
    """The names to get (each once, in order), the types, and the malformed summaries."""
    names: dict[str, str] = {}
    invalid = 0
    for summary in summaries:
        name = summary.get("name") if isinstance(summary, Mapping) else None
        kind = summary.get("type") if isinstance(summary, Mapping) else None
        if not isinstance(name, str) or not name or not isinstance(kind, str) or not kind:
            invalid += 1
            continue
        names.setdefault(name, kind)
    return list(names), list(names.values()), invalid


def batch_get(client: Any, collaboration_id: str, names: list[str]) -> Mapping[str, Any]:
    """One BatchGetSchema; an answer that is not an object fails the poll, as a bad page does."""
    try:
        answer = client.call(GET, collaborationIdentifier=collaboration_id, names=names)
    except (ValueError, TypeError, AttributeError, KeyError) as err:
        # botocore's parser raises these on bodies that do not fit the API's shape.
        raise FetchError("InvalidResponse", f"unparseable response: {err}", GET) from err
    if not isinstance(answer, Mapping):
        raise FetchError("InvalidResponse", "response is not an object", GET)
    return answer


def collect(answer: Mapping[str, Any], got: list[Status], errors: dict[str, int]) -> int:
    """Add one answer's schemas to ``got`` and its errors[] by code; the malformed entries."""
    invalid = 0
    schemas, failed = answer.get("schemas"), answer.get("errors")
    for item in schemas if isinstance(schemas, list) else ():
        status = parse(item)
        if status is None:
            invalid += 1
        else:
            got.append(status)
    for error in failed if isinstance(failed, list) else ():
        code = error.get("code") if isinstance(error, Mapping) else None
        if not isinstance(code, str) or not code:
            invalid += 1
            continue
        if code not in errors and len(errors) >= MAX_ERROR_CODES + ("other" in errors):
            code = "other"
        errors[code] = errors.get(code, 0) + 1
    return invalid


STATUS_FAMILIES = StatusFamilies(
    gauge(
        "cleanrooms_schemas",
        "Tables (schemas) of each ACTIVE collaboration by status (READY, NOT_READY): NOT_READY "
        "if any of its analysis rule types is not ready.",
        *MEMBERSHIP_LABELS,
        "status",
    )
)
BY_TYPE = gauge(
    "cleanrooms_schemas_by_type",
    "Tables (schemas) ListSchemas names in each ACTIVE collaboration, by type.",
    *MEMBERSHIP_LABELS,
    "type",
)
REASONS = gauge(
    "cleanrooms_schema_not_ready_reason",
    "Each reason a NOT_READY table cannot be queried (1 per schema, analysis rule type and "
    "reason code).",
    *MEMBERSHIP_LABELS,
    "schema_name",
    "analysis_rule_type",
    "reason_code",
)
ERRORS = gauge(
    "cleanrooms_schema_get_errors",
    f"Tables BatchGetSchema answered with an error instead of the table in the last poll, "
    f"by error code (at most {MAX_ERROR_CODES} codes per membership, the rest as other).",
    *MEMBERSHIP_LABELS,
    "error_code",
)


def samples(item: TargetData[SchemasData], _: OutputSettings, out: Samples) -> None:
    for cid, found in active_only(item, item.data.per_collaboration):
        key = (label(found.membership_id), label(cid))
        STATUS_FAMILIES.add(out, key, found.tally)
        for kind, number in found.by_type.items():
            out.add(BY_TYPE, (*key, label(kind)), number)
        for schema in found.not_ready:
            for rule, code in schema.reasons:
                out.add(REASONS, (*key, label(schema.name), label(rule), label(code)), 1.0)
        for code, number in sorted(found.errors.items()):
            out.add(ERRORS, (*key, label(code)), number)


def _tallies(item: TargetData[SchemasData]) -> list[tuple[tuple[str, ...], Tally]]:
    return [
        ((label(found.membership_id), label(cid)), found.tally)
        for cid, found in active_only(item, item.data.per_collaboration)
    ]


OLDEST = oldest_age(
    "cleanrooms_schema_oldest_not_ready_age_seconds",
    "Time since this exporter first saw the oldest of each ACTIVE collaboration's NOT_READY "
    "tables NOT_READY; 0 when none.",
    MEMBERSHIP_LABELS,
    _tallies,
)
SHOWN_REASONS = 3  # per table on the status page; /metrics has them all


def findings(key: TargetKey, data: SchemasData, _: float = 0.0) -> list[Finding]:
    """Per membership: the tables partners cannot query, each with its reasons in words."""
    out = []
    for found in data.per_collaboration.values():
        if not found.not_ready:
            continue
        tables = "; ".join(_table(schema) for schema in found.not_ready)
        what = f"not ready: {tables}"
        weight = len(found.not_ready)
        out.append(Finding(key, found.membership_id, FAILING, what, kind=UNUSABLE, weight=weight))
    return out


def _table(schema: NotReady) -> str:
    words = list(dict.fromkeys(in_words(code) for _, code in schema.reasons))
    if not words:
        return f"{schema.name} (no reason given)"
    more = f", and {len(words) - SHOWN_REASONS} more" if len(words) > SHOWN_REASONS else ""
    return f"{schema.name} ({', '.join(words[:SHOWN_REASONS])}{more})"


SPEC: CollectorSpec[SchemasData] = CollectorSpec(
    name="schemas",
    doc="Tables (schemas) of each ACTIVE collaboration: READY or NOT_READY, and why not.",
    order=85,
    polling=Polling(
        poll=poll,
        operations=(LIST, GET),
        calls=Calls(
            "Σ over ACTIVE collaborations of ⌈S / 100⌉, at least 1, plus ⌈S / 25⌉ "
            "(S = the collaboration's schemas)",
            per_active=2,  # one page of up to 25 tables, and their Get
        ),
        default_interval=600.0,
        fans_out_from=collaborations.NAME,
    ),
    rendering=Rendering(
        families=(*STATUS_FAMILIES.families, BY_TYPE, REASONS, ERRORS),
        samples=samples,
        ages=(OLDEST,),
    ),
    shown=Shown(probe=Probe(lambda c: {"collaborationIdentifier": c.id}), findings=findings),
)
