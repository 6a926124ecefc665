"""The ml_audiences collector: lookalike audiences of Clean Rooms ML, per account and region.

Lists the target's audience models, configured audience models and audience generation
jobs (no fan-out: they belong to the account, not to a membership), counts each by
status, counts failures once, and ages each ACTIVE audience model from its creation:
AWS never retrains one by itself and recommends doing so regularly, so "older than a
week" is an alert. Sample output::

    # TYPE cleanrooms_ml_audience_model_age_seconds gauge
    cleanrooms_ml_audience_model_age_seconds{account_id="1111",audience_model="shoppers",...} 864000
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.collectors import listings
from exporter.collectors.base import (
    AgeSpec,
    Calls,
    CollectorSpec,
    PollContext,
    Polling,
    Rendering,
    Shown,
    TargetData,
)
from exporter.collectors.listings import Listed, ListedKind
from exporter.collectors.status_counts import StatusFamilies, StatusRules
from exporter.core.model import INFO, RUNNING_LOW, Finding, TargetKey
from exporter.core.series import OutputSettings, Samples, counter, gauge, label

STATUSES = (
    "CREATE_PENDING",
    "CREATE_IN_PROGRESS",
    "CREATE_FAILED",
    "ACTIVE",
    "DELETE_PENDING",
    "DELETE_IN_PROGRESS",
    "DELETE_FAILED",
)
FAILED = StatusRules(STATUSES, once=("CREATE_FAILED",), in_progress=listings.IN_PROGRESS)
MODELS = ListedKind(
    operation="ListAudienceModels",
    list_key="audienceModels",
    id_key="audienceModelArn",
    noun="audience models",
    kept_fields=("name",),
    rules=FAILED,
    counts_name="cleanrooms_ml_audience_models",
    failed_name="cleanrooms_ml_audience_models_failed",
)
CONFIGURED = ListedKind(
    operation="ListConfiguredAudienceModels",
    list_key="configuredAudienceModels",
    id_key="configuredAudienceModelArn",
    noun="configured audience models",
    rules=StatusRules(("ACTIVE",)),
    counts_name="cleanrooms_ml_configured_audience_models",
    failed_name="",
)
JOBS = ListedKind(
    operation="ListAudienceGenerationJobs",
    list_key="audienceGenerationJobs",
    id_key="audienceGenerationJobArn",
    noun="audience generation jobs",
    rules=FAILED,
    counts_name="cleanrooms_ml_audience_generation_jobs",
    failed_name="cleanrooms_ml_audience_generation_jobs_failed",
)
KINDS = (MODELS, CONFIGURED, JOBS)
STALE_AFTER = 7 * 86400.0  # AWS recommends retraining regularly; the status page lists these


@dataclass(frozen=True, slots=True)
class AudiencesData:
    """One target's listings, in the order of ``KINDS``."""

    listed: tuple[Listed, ...]
    invalid_items: int = 0


def poll(context: PollContext) -> AudiencesData:
    """Each of the three listings, every page: ⌈n / 100⌉ calls each, at least one."""
    previous = context.previous if isinstance(context.previous, AudiencesData) else None
    listed, invalid = [], 0
    for index, kind in enumerate(KINDS):
        old = previous.listed[index] if previous is not None else None
        found, bad = listings.list_tally(context, kind, {}, old, "")
        listed.append(found)
        invalid += bad
    return AudiencesData(tuple(listed), invalid)


def _families(kind: ListedKind) -> StatusFamilies:
    counts = gauge(
        kind.counts_name,
        f"Clean Rooms ML {kind.noun} of the account by status.",
        "status",
        values=(("status", kind.rules.statuses),),
    )
    if not kind.failed_name:
        return StatusFamilies(counts)
    failed = counter(
        kind.failed_name,
        f"Clean Rooms ML {kind.noun} seen failed, each counted once; from 0 when the "
        "exporter starts watching the target.",
    )
    return StatusFamilies(counts, failed)


FAMILIES = tuple(_families(kind) for kind in KINDS)


def samples(item: TargetData[AudiencesData], _: OutputSettings, out: Samples) -> None:
    """Counts by status of each kind; failed counters of models and generation jobs."""
    for families, found in zip(FAMILIES, item.data.listed, strict=True):
        families.add(out, (), found.tally)


def _active_models(item: TargetData[AudiencesData]) -> list[tuple[tuple[str, ...], float | None]]:
    return [
        ((label(str(m.fields.get("name") or m.id)),), m.created)
        for m in item.data.listed[0].items
        if m.status == "ACTIVE"
    ]


def findings(key: TargetKey, data: AudiencesData, now: float) -> list[Finding]:
    """Failed models or jobs; ACTIVE audience models not retrained for a week."""
    out = [
        f
        for kind, found in zip(KINDS, data.listed, strict=True)
        for f in listings.failed_findings(kind, key, "", found.tally, 0.0)
    ]
    for model in data.listed[0].items:
        if model.status == "ACTIVE" and now - model.created > STALE_AFTER:
            # AWS advises retraining; the model keeps working meanwhile.
            days = (now - model.created) / 86400
            name = model.fields.get("name") or model.id
            what = f"audience model {name}: trained {days:.0f} days ago; retraining advised"
            kind = "Audience models to retrain"
            out.append(Finding(key, "", RUNNING_LOW, what, (), kind, INFO, days))
    return out


SPEC: CollectorSpec[AudiencesData] = CollectorSpec(
    name="ml_audiences",
    doc="Clean Rooms ML lookalike audiences of the account: models, configured models, "
    "generation jobs, and how old each ACTIVE audience model is.",
    order=120,
    polling=Polling(
        poll=poll,
        operations=(MODELS.operation, CONFIGURED.operation, JOBS.operation),
        calls=Calls(
            "⌈AM / 100⌉ + ⌈CAM / 100⌉ + ⌈AGJ / 100⌉, at least 3 (per target, no fan-out)",
            per_target=3,
        ),
        service="cleanroomsml",
    ),
    rendering=Rendering(
        families=tuple(f for families in FAMILIES for f in families.families),
        samples=samples,
        ages=(
            AgeSpec(
                "cleanrooms_ml_audience_model_age_seconds",
                "Age of each ACTIVE audience model since its creation: AWS never retrains one "
                "by itself.",
                ("audience_model",),
                _active_models,
                items=("audience_model",),  # the oldest of them, at a coarser detail level
            ),
        ),
    ),
    shown=Shown(findings=findings),
)
