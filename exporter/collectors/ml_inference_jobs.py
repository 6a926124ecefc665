"""The ml_inference_jobs collector: ListTrainedModelInferenceJobs of every ACTIVE membership.

Sample output::

    # TYPE cleanrooms_ml_inference_jobs gauge
    cleanrooms_ml_inference_jobs{account_id="1111",...,membership_id="m1",status="ACTIVE"} 3
    # TYPE cleanrooms_ml_inference_job_oldest_in_progress_age_seconds gauge
    cleanrooms_ml_inference_job_oldest_in_progress_age_seconds{...,membership_id="m1"} 5400
    # TYPE cleanrooms_ml_inference_job_publications gauge
    cleanrooms_ml_inference_job_publications{...,publication="logs",status="PUBLISH_FAILED"} 1

Besides its status, each job's summary says whether its metrics and its logs were
published (``metricsStatus``, ``logsStatus``): missing logs of a custom model's job are a
documented troubleshooting case. Both are counted by status the same way (``status_counts``),
and each job is counted once when first seen ``PUBLISH_FAILED``, the membership's first
poll a baseline. A job whose summary carries no such status is not counted in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from exporter.collectors import collaborations, listings
from exporter.collectors.base import (
    AgeSpec,
    CollectorSpec,
    PollContext,
    Polling,
    Rendering,
    Shown,
    TargetData,
)
from exporter.collectors.collaborations import MEMBERSHIP_LABELS, active_only
from exporter.collectors.status_counts import Item, Points, StatusRules, Tally, tally
from exporter.core.model import Finding, TargetKey
from exporter.core.series import OutputSettings, Samples, counter, gauge, label

# The label value of each publication, and the summary member that says how it went.
PUBLICATIONS = (("logs", "logsStatus"), ("metrics", "metricsStatus"))
PUBLISH = StatusRules(("PUBLISH_FAILED", "PUBLISH_SUCCEEDED"), once=("PUBLISH_FAILED",))

KIND = listings.ListedKind(
    operation="ListTrainedModelInferenceJobs",
    list_key="trainedModelInferenceJobs",
    id_key="trainedModelInferenceJobArn",
    noun="ML inference jobs",
    rules=StatusRules(
        (
            "CREATE_PENDING",
            "CREATE_IN_PROGRESS",
            "CREATE_FAILED",
            "ACTIVE",
            "CANCEL_PENDING",
            "CANCEL_IN_PROGRESS",
            "CANCEL_FAILED",
            "INACTIVE",
        ),
        once=("CREATE_FAILED",),
        in_progress=listings.IN_PROGRESS,
    ),
    counts_name="cleanrooms_ml_inference_jobs",
    failed_name="cleanrooms_ml_inference_jobs_failed",
    oldest_name="cleanrooms_ml_inference_job_oldest_in_progress_age_seconds",
    kept_fields=tuple(member for _, member in PUBLICATIONS),
)

Publications = Mapping[str, Tally]  # by publication: logs, metrics


@dataclass(frozen=True, slots=True)
class InferenceJobsData:
    """The jobs of each ACTIVE membership (``listings``), and their publications, tallied."""

    jobs: listings.ListingsData
    # Per collaboration id: the membership's publications, tallied by status.
    publications: Mapping[str, Publications] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def invalid_items(self) -> int:
        return self.jobs.invalid_items


def publications(found: listings.Listed, old: Publications | None) -> Publications:
    """Each publication of the membership's jobs counted by status, from ``old`` on."""
    tallies = {}
    for name, member in PUBLICATIONS:
        items = [
            Item(job.id, status, job.created)
            for job in found.items
            if isinstance(status := job.fields.get(member), str) and status
        ]
        tallies[name] = tally(PUBLISH, items, old.get(name) if old is not None else None)
    return MappingProxyType(tallies)


def poll(context: PollContext) -> InferenceJobsData:
    """One paged ListTrainedModelInferenceJobs per ACTIVE membership."""
    previous = context.previous if isinstance(context.previous, InferenceJobsData) else None
    jobs = listings.poll_memberships(
        KIND, replace(context, previous=previous.jobs if previous is not None else None)
    )
    found = {}
    for cid, listed in jobs.per_collaboration.items():
        earlier = previous.jobs.per_collaboration.get(cid) if previous is not None else None
        same = earlier is not None and earlier.membership_id == listed.membership_id
        old = previous.publications.get(cid) if same and previous is not None else None
        found[cid] = publications(listed, old)
    return InferenceJobsData(jobs, MappingProxyType(found))


STATUS_FAMILIES = listings.membership_families(KIND)
PUBLICATION_COUNTS = gauge(
    "cleanrooms_ml_inference_job_publications",
    "ML inference jobs of each ACTIVE membership by how their logs or metrics were "
    "published (logsStatus, metricsStatus); jobs that do not say are not counted.",
    *MEMBERSHIP_LABELS,
    "publication",
    "status",
)
PUBLISH_FAILURES = counter(
    "cleanrooms_ml_inference_job_publish_failures",
    "ML inference jobs seen with their logs or metrics PUBLISH_FAILED, each counted once; "
    "from 0 when the exporter starts watching a membership.",
    *MEMBERSHIP_LABELS,
    "publication",
)


def samples(item: TargetData[InferenceJobsData], _: OutputSettings, out: Samples) -> None:
    """Counts by status and failed, then each publication's counts and failures."""
    jobs = TargetData(item.key, item.data.jobs, item.parent)
    listings.membership_samples(STATUS_FAMILIES, jobs, out)
    for cid, listed in active_only(item, item.data.jobs.per_collaboration):
        key = (label(listed.membership_id), label(cid))
        for name, found in sorted(item.data.publications.get(cid, {}).items()):
            for status, number in sorted(found.counts.items()):
                out.add(PUBLICATION_COUNTS, (*key, name, label(status)), number)
            out.add(PUBLISH_FAILURES, (*key, name), found.once_total)


_BASE = listings.spec(
    KIND,
    "ml_inference_jobs",
    "Clean Rooms ML inference jobs of each ACTIVE membership: by status, failed, oldest "
    "running, and whether their logs and metrics were published.",
    order=100,
    service="cleanroomsml",
    what="inference jobs",
)
(_OLDEST,) = _BASE.rendering.ages


def _oldest_points(item: TargetData[InferenceJobsData]) -> Points:
    return _OLDEST.points(TargetData(item.key, item.data.jobs, item.parent))


def _findings(key: TargetKey, data: InferenceJobsData, now: float) -> list[Finding]:
    return listings.findings(KIND, key, data.jobs, now)


# The listing's collector (listings.spec), its data wrapped with the publications.
SPEC: CollectorSpec[InferenceJobsData] = CollectorSpec(
    name=_BASE.name,
    doc=_BASE.doc,
    order=_BASE.order,
    polling=Polling(
        poll=poll,
        operations=_BASE.polling.operations,
        calls=_BASE.polling.calls,
        fans_out_from=collaborations.NAME,
        service=_BASE.polling.service,
    ),
    rendering=Rendering(
        families=(*STATUS_FAMILIES.families, PUBLICATION_COUNTS, PUBLISH_FAILURES),
        samples=samples,
        ages=(AgeSpec(_OLDEST.name, _OLDEST.doc, _OLDEST.labels, _oldest_points),),
    ),
    shown=Shown(probe=_BASE.shown.probe, findings=_findings),
)
