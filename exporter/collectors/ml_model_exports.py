"""The ml_model_exports collector: export jobs of every ACTIVE trained model, per collaboration.

``ListCollaborationTrainedModelExportJobs`` takes one trained model: one call (a page) per
model. So each poll lists the collaboration's trained models (``ListCollaborationTrainedModels``,
its own call: it runs on its own schedule, whichever other collector is on), then the
export jobs of at most ``models_per_poll`` ACTIVE models, least recently listed first; the
others keep their last listing and are counted in ``cleanrooms_ml_model_export_backlog``.
A model's first listing is a baseline if it was ACTIVE at the membership's first poll: a
restart counts no old failure, however many polls the rotation takes to reach it.

Export jobs are collaboration-wide; each is labelled with this account's part in it
(``account_role``: it started it, it receives its output, or neither). Sample output::

    # TYPE cleanrooms_ml_model_export_jobs gauge
    cleanrooms_ml_model_export_jobs{...,account_role="receiver",status="CREATE_FAILED"} 1
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from exporter.collectors import collaborations, export_jobs
from exporter.collectors.base import (
    Calls,
    CollectorSpec,
    Option,
    PollContext,
    Polling,
    Probe,
    Rendering,
    Shown,
    TargetData,
)
from exporter.collectors.collaborations import MEMBERSHIP_LABELS, Collaboration, active_only
from exporter.collectors.paging import list_all
from exporter.collectors.status_counts import (
    Item,
    Tally,
    count,
    fresh,
    newly_counted,
    parse_items,
    tally,
)
from exporter.core.model import FAILED_WORK, FAILING, Finding, TargetKey
from exporter.core.series import OutputSettings, Samples, counter, gauge, label

log = logging.getLogger(__name__)

MODELS = "ListCollaborationTrainedModels"
OPERATION = "ListCollaborationTrainedModelExportJobs"
RULES = export_jobs.RULES
ROLES = ("creator", "receiver", "neither")  # this account started it, receives it, neither
ExportGroup = tuple[str, str]  # (creator account, the receiving accounts comma-joined)
MODELS_PER_POLL = Option(
    "models_per_poll",
    "count",
    20.0,
    "At most this many ACTIVE trained models' export jobs listed per collaboration per poll, "
    "least recently listed first.",
)


def role(account_id: str, group: ExportGroup) -> str:
    creator, receivers = group
    if creator == account_id:
        return "creator"
    return "receiver" if account_id in receivers.split(",") else "neither"


@dataclass(frozen=True, slots=True)
class ModelListing:
    """One model's export jobs as last listed, and when (the rotation's order)."""

    listed_at: float
    tally: Tally
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class ModelExports:
    """One ACTIVE collaboration's model export jobs, and what carries to the next poll."""

    membership_id: str
    models: Mapping[str, ModelListing]  # by ACTIVE trained model ARN
    failed: Mapping[ExportGroup, int]  # counted once since the baseline
    reasons: Mapping[str, int]  # the same, by bounded reason
    backlog: int = 0  # ACTIVE models this poll did not list
    baseline: frozenset[str] = frozenset()  # ACTIVE at the first poll, not listed yet


@dataclass(frozen=True, slots=True)
class ModelExportsData:
    per_collaboration: Mapping[str, ModelExports] = field(
        default_factory=lambda: MappingProxyType({})
    )
    invalid_items: int = 0


def group(item: Item) -> ExportGroup:
    creator = item.fields.get("creatorAccountId")
    output = item.fields.get("outputConfiguration")
    members = output.get("members") if isinstance(output, Mapping) else None
    receivers = {m.get("accountId") for m in members or () if isinstance(m, Mapping)} - {None}
    return (creator if isinstance(creator, str) else "", ",".join(sorted(map(str, receivers))))


class _Poll:
    """One poll of a target: its context, the rotation's bound, the target's reasons."""

    def __init__(self, context: PollContext, known: set[str]) -> None:
        self.context = context
        self.per_poll = int(context.options.get("models_per_poll", MODELS_PER_POLL.default))
        self.known = known
        self.invalid = 0

    def _list(self, operation: str, key: str, params: dict[str, Any]) -> list[Any]:
        context = self.context
        return list_all(context.client, operation, key, params, context.max_pages)[0]

    def active_models(self, collaboration_id: str) -> list[str]:
        summaries = self._list(
            MODELS, "collaborationTrainedModels", {"collaborationIdentifier": collaboration_id}
        )
        items, bad = parse_items(summaries, "trainedModelArn")
        self.invalid += bad
        return sorted({i.id for i in items if i.status == "ACTIVE"})

    def exports(self, collaboration_id: str, model: str) -> list[Item]:
        params = {"collaborationIdentifier": collaboration_id, "trainedModelArn": model}
        summaries = self._list(OPERATION, "collaborationTrainedModelExportJobs", params)
        keep = ("creatorAccountId", "outputConfiguration")
        items, bad = export_jobs.parse(summaries, "trainedModelArn", keep)
        self.invalid += bad
        return items

    def collaboration(self, c: Collaboration, old: ModelExports | None) -> ModelExports:
        active = self.active_models(c.id)
        before = old.models if old is not None else {}
        baseline = frozenset(active) if old is None else old.baseline & set(active)
        chosen = sorted(active, key=lambda a: (a in before, _listed_at(before, a), a))
        chosen = chosen[: self.per_poll]
        models = {a: before[a] for a in active if a in before}
        failed = dict(old.failed) if old is not None else {}
        reasons = old.reasons if old is not None else MappingProxyType({})
        for model in chosen:
            items = self.exports(c.id, model)
            prior = before[model].tally if model in before else None
            if prior is None and model not in baseline:
                prior = fresh(RULES)  # ACTIVE since the baseline: its failures are news
            found = tally(RULES, items, prior)
            by_id = {item.id: item for item in items}
            news = [by_id[i] for i in newly_counted(prior, found)]
            for item in news:
                failed[group(item)] = failed.get(group(item), 0) + 1
            reasons = export_jobs.count_reasons(reasons, news, self.known)
            listed = tuple(by_id[i] for i in sorted(by_id))
            models[model] = ModelListing(self.context.now, found, listed)
        return ModelExports(
            c.membership_id,
            MappingProxyType(dict(sorted(models.items()))),
            MappingProxyType(dict(sorted(failed.items()))),
            reasons,
            len(active) - len(chosen),
            baseline - set(chosen),
        )


def _listed_at(models: Mapping[str, ModelListing], model: str) -> float:
    found = models.get(model)
    return found.listed_at if found is not None else 0.0


def poll(context: PollContext) -> ModelExportsData:
    """Per ACTIVE collaboration: its trained models, then some of their export jobs."""
    previous = context.previous if isinstance(context.previous, ModelExportsData) else None
    earlier = previous.per_collaboration if previous is not None else {}
    known = {r for c in earlier.values() for r in c.reasons}
    one = _Poll(context, known)
    found = collaborations.each_membership(context, MODELS, earlier, one.collaboration)
    if one.invalid:
        log.warning("skipped %d malformed trained model or export job summaries", one.invalid)
    return ModelExportsData(MappingProxyType(found), one.invalid)


COUNTS = gauge(
    "cleanrooms_ml_model_export_jobs",
    "Export jobs of the ACTIVE trained models of each ACTIVE collaboration, as last listed, "
    "by this account's part (account_role: creator, receiver, neither) and status.",
    *MEMBERSHIP_LABELS,
    "account_role",
    "status",
)
FAILED = counter(
    "cleanrooms_ml_model_export_jobs_failed",
    "Trained model export jobs seen failed (CREATE_FAILED), each counted once, by this "
    "account's part; from 0 when the exporter starts watching a membership.",
    *MEMBERSHIP_LABELS,
    "account_role",
)
REASONS = counter(
    "cleanrooms_ml_model_export_jobs_failed_by_reason",
    f"Trained model export jobs seen failed, each counted once, by statusDetails.statusCode "
    f"(at most {export_jobs.MAX_REASONS} reasons per target, the rest as "
    f"{export_jobs.OTHER}).",
    *MEMBERSHIP_LABELS,
    "reason",
)
BACKLOG = gauge(
    "cleanrooms_ml_model_export_backlog",
    "ACTIVE trained models whose export jobs the last poll did not list (beyond "
    "models_per_poll): listed on later polls.",
    *MEMBERSHIP_LABELS,
)


def by_role(account_id: str, found: ModelExports) -> dict[str, list[Item]]:
    out: dict[str, list[Item]] = {r: [] for r in ROLES}
    for listing in found.models.values():
        for item in listing.items:
            out[role(account_id, group(item))].append(item)
    return out


def samples(item: TargetData[ModelExportsData], _: OutputSettings, out: Samples) -> None:
    account = item.key[0]
    for collaboration_id, found in active_only(item, item.data.per_collaboration):
        where = (label(found.membership_id), label(collaboration_id))
        for part, items in by_role(account, found).items():
            for status, number in count(RULES, (i.status for i in items)).items():
                out.add(COUNTS, (*where, part, label(status)), number)
        failed = dict.fromkeys(ROLES, 0)
        for export_group, number in found.failed.items():
            failed[role(account, export_group)] += number
        for part, number in failed.items():
            out.add(FAILED, (*where, part), number)
        for reason, number in found.reasons.items():
            out.add(REASONS, (*where, label(reason)), number)
        out.add(BACKLOG, where, found.backlog)


def findings(key: TargetKey, data: ModelExportsData, _: float) -> list[Finding]:
    """Failed exports this account started or would receive: the model trained, no export."""
    out = []
    for found in data.per_collaboration.values():
        mine = by_role(key[0], found)
        failed = sum(1 for r in ("creator", "receiver") for i in mine[r] if i.status in RULES.once)
        if failed:
            what = f"trained model exports this account started or receives failed: {failed}"
            out.append(
                Finding(key, found.membership_id, FAILING, what, kind=FAILED_WORK, weight=failed)
            )
    return out


SPEC: CollectorSpec[ModelExportsData] = CollectorSpec(
    name="ml_model_exports",
    doc="Export jobs of the ACTIVE Clean Rooms ML trained models of each ACTIVE collaboration, "
    "a bounded number of models per poll: by status, failed (by reason), the backlog.",
    order=97,
    polling=Polling(
        poll=poll,
        operations=(MODELS, OPERATION),
        calls=Calls(
            "Σ over ACTIVE collaborations of ⌈TM / 100⌉, at least 1, plus Σ over the "
            "min(A, `models_per_poll`) models listed of ⌈X / 100⌉, at least 1 each (TM = "
            "every member's trained models, A = the ACTIVE ones, X = a model's export jobs)",
            per_active=1,
        ),
        options=(MODELS_PER_POLL,),
        fans_out_from=collaborations.NAME,
        service="cleanroomsml",
    ),
    rendering=Rendering(families=(COUNTS, FAILED, REASONS, BACKLOG), samples=samples),
    shown=Shown(
        probe=Probe(lambda c: {"collaborationIdentifier": c.id}),
        findings=findings,
    ),
)
