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

from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client.core import Metric

from exporter.collectors import resources
from exporter.collectors.base import (
    AgeSpec,
    CollectorSpec,
    Fresh,
    OutputSettings,
    PollContext,
)
from exporter.core.families import COLLECTOR_POLLED, TARGET_LABELS, counter, gauge, label
from exporter.core.model import INFO, RUNNING_LOW, Finding, TargetKey

STATUSES = (
    "CREATE_PENDING",
    "CREATE_IN_PROGRESS",
    "CREATE_FAILED",
    "ACTIVE",
    "DELETE_PENDING",
    "DELETE_IN_PROGRESS",
    "DELETE_FAILED",
)
MODELS = resources.Kind(
    operation="ListAudienceModels",
    list_key="audienceModels",
    id_key="audienceModelArn",
    noun="audience models",
    keep=("name",),
    statuses=STATUSES,
    failed=("CREATE_FAILED",),
    counts_name="cleanrooms_ml_audience_models",
    failed_name="cleanrooms_ml_audience_models_failed",
)
CONFIGURED = resources.Kind(
    operation="ListConfiguredAudienceModels",
    list_key="configuredAudienceModels",
    id_key="configuredAudienceModelArn",
    noun="configured audience models",
    statuses=("ACTIVE",),
    failed=(),
    counts_name="cleanrooms_ml_configured_audience_models",
    failed_name="",
)
JOBS = resources.Kind(
    operation="ListAudienceGenerationJobs",
    list_key="audienceGenerationJobs",
    id_key="audienceGenerationJobArn",
    noun="audience generation jobs",
    statuses=STATUSES,
    failed=("CREATE_FAILED",),
    counts_name="cleanrooms_ml_audience_generation_jobs",
    failed_name="cleanrooms_ml_audience_generation_jobs_failed",
)
KINDS = (MODELS, CONFIGURED, JOBS)
STALE_AFTER = 7 * 86400.0  # AWS recommends retraining regularly; the status page lists these


@dataclass(frozen=True, slots=True)
class AudiencesData:
    """One target's tallies, in the order of ``KINDS``."""

    tallies: tuple[resources.Tally, ...]
    invalid_items: int = 0


def poll(context: PollContext) -> AudiencesData:
    """Each of the three listings, every page: ⌈n / 100⌉ calls each, at least one."""
    previous = context.previous if isinstance(context.previous, AudiencesData) else None
    tallies, invalid = [], 0
    for index, kind in enumerate(KINDS):
        old = previous.tallies[index] if previous is not None else None
        found, bad = resources.list_tally(context, kind, {}, old, "")
        tallies.append(found)
        invalid += bad
    return AudiencesData(tuple(tallies), invalid)


def families(fresh: Sequence[Fresh], _: OutputSettings) -> list[Metric]:
    """Counts by status of each kind; failed counters of models and generation jobs."""
    built: list[Metric] = []
    for index, kind in enumerate(KINDS):
        counts = gauge(
            kind.counts_name,
            f"Clean Rooms ML {kind.noun} of the account by status.",
            (*TARGET_LABELS, "status"),
            polled=COLLECTOR_POLLED,
        )
        failed = counter(
            kind.failed_name or f"{kind.counts_name}_failed",
            f"Clean Rooms ML {kind.noun} seen failed, each counted once; from 0 when the "
            "exporter starts watching the target.",
        )
        for item in fresh:
            found: resources.Tally = item.data.tallies[index]
            for status, count in sorted(found.counts.items()):
                counts.add_metric([*item.key, label(status)], count)
            failed.add_metric(list(item.key), found.failed_total)
        built += [counts, failed] if kind.failed else [counts]
    return built


def _active_models(item: Fresh) -> list[tuple[tuple[str, ...], float | None]]:
    models: resources.Tally = item.data.tallies[0]
    return [
        ((label(str(m.summary.get("name") or m.id)),), m.created)
        for m in models.resources
        if m.status == "ACTIVE"
    ]


def findings(key: TargetKey, data: AudiencesData, now: float) -> list[Finding]:
    """Failed models or jobs; ACTIVE audience models not retrained for a week."""
    out = [f for kind, t in zip(KINDS, data.tallies, strict=True) for f in _failed(kind, key, t)]
    for model in data.tallies[0].resources:
        if model.status == "ACTIVE" and now - model.created > STALE_AFTER:
            # AWS advises retraining; the model keeps working meanwhile.
            days = (now - model.created) / 86400
            name = model.summary.get("name") or model.id
            what = f"audience model {name}: trained {days:.0f} days ago; retraining advised"
            kind = "Audience models to retrain"
            out.append(Finding(key, "", RUNNING_LOW, what, (), kind, INFO, days))
    return out


def _failed(kind: resources.Kind, key: TargetKey, found: resources.Tally) -> list[Finding]:
    return resources.tally_findings(kind, key, found, 0.0) if kind.failed else []


SPEC = CollectorSpec(
    name="ml_audiences",
    doc="Clean Rooms ML lookalike audiences of the account: models, configured models, "
    "generation jobs, and how old each ACTIVE audience model is.",
    operations=(MODELS.operation, CONFIGURED.operation, JOBS.operation),
    default_enabled=False,
    default_interval=None,
    poll=poll,
    families=families,
    ages=(
        AgeSpec(
            "cleanrooms_ml_audience_model_age_seconds",
            "Age of each ACTIVE audience model since its creation: AWS never retrains one "
            "by itself.",
            ("audience_model",),
            _active_models,
        ),
    ),
    findings=findings,
    service="cleanroomsml",
    iam_prefix="cleanrooms-ml",
)
