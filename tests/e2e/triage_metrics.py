"""What the status page's summary line should count, computed from /metrics alone.

Each count the page states has a rule here over the exposition's series. A kind of finding
that needs action and has no rule fails the test that uses these: teach it here how
/metrics shows that kind, so the page's count is checked rather than trusted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from exporter.collectors import (
    analysis_log_exports,
    export_jobs,
    intermediate_tables,
    ml_audience_exports,
    ml_audiences,
    ml_collaboration_inference_jobs,
    ml_collaboration_input_channels,
    ml_collaboration_trained_models,
    ml_inference_jobs,
    ml_input_channels,
    ml_model_exports,
    ml_trained_models,
    protected_jobs,
    protected_queries,
    schemas,
)
from exporter.collectors.protected_analyses import FAILED
from exporter.collectors.schema_status import NOT_READY
from exporter.core.model import FAILED_WORK

PRIMARY = "collaborations"
Place = tuple[str, ...]  # (account, region, membership id) or (account, region)

# Per-membership counts by status whose failed statuses are failed work.
_FAILED_BY_MEMBERSHIP = {
    protected_queries.KIND.counts_name: FAILED,
    protected_jobs.KIND.counts_name: FAILED,
    intermediate_tables.KIND.counts_name: ("POPULATE_FAILED",),
    **{
        m.KIND.counts_name: m.KIND.rules.once
        for m in (ml_trained_models, ml_inference_jobs, ml_input_channels)
    },
    analysis_log_exports.KIND.counts_name: analysis_log_exports.KIND.rules.once,
}
# Per-target (account-wide) counts by status whose failed statuses are failed work.
_FAILED_BY_TARGET = {
    **{k.counts_name: k.rules.once for k in ml_audiences.KINDS if k.rules.once},
    ml_audience_exports.STATUS_FAMILIES.counts.name: export_jobs.RULES.once,
}
# Collaboration-wide counts: failed work only in the parts of it this account has a stake
# in (another member's work it pays for; exports it started or receives).
_FAILED_BY_ROLE = {
    **{
        m.KIND.counts_name: (m.KIND.rules.once, ("payer",))
        for m in (
            ml_collaboration_trained_models,
            ml_collaboration_inference_jobs,
            ml_collaboration_input_channels,
        )
    },
    ml_model_exports.COUNTS.name: (export_jobs.RULES.once, ("creator", "receiver")),
}


def samples(metrics: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(metrics) for s in family.samples]


def _membership(s: Sample) -> Place:
    return (s.labels["account_id"], s.labels["region"], s.labels["membership_id"])


def _target(s: Sample) -> Place:
    return (s.labels["account_id"], s.labels["region"])


def failed_work(found: Iterable[Sample]) -> set[Place]:
    places: set[Place] = set()
    for s in found:
        if s.value > 0 and s.labels.get("status") in _FAILED_BY_MEMBERSHIP.get(s.name, ()):
            places.add(_membership(s))
        if s.value > 0 and s.labels.get("status") in _FAILED_BY_TARGET.get(s.name, ()):
            places.add(_target(s))
        statuses, roles = _FAILED_BY_ROLE.get(s.name, ((), ()))
        staked = s.labels.get("account_role") in roles
        if s.value > 0 and staked and s.labels.get("status") in statuses:
            places.add(_membership(s))
    return places


def unusable_tables(found: Iterable[Sample]) -> set[Place]:
    """Memberships with intermediate tables no analysis can read, or tables NOT_READY."""
    return {
        _membership(s)
        for s in found
        if s.value > 0
        and (
            (
                s.name == intermediate_tables.KIND.counts_name
                and s.labels["status"] in intermediate_tables.CANNOT_BE_QUERIED
            )
            or (s.name == schemas.STATUS_FAMILIES.counts.name and s.labels["status"] == NOT_READY)
        )
    }


def exhausted_budgets(found: Iterable[Sample]) -> set[Place]:
    """Memberships with an access budget period, or a differential-privacy count, at 0."""
    pairs = {
        "cleanrooms_access_budget_remaining": "cleanrooms_access_budget_limit",
        "cleanrooms_privacy_budget_remaining_queries": "cleanrooms_privacy_budget_max_queries",
    }
    values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    found = list(found)
    for s in found:
        values[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return {
        _membership(s)
        for s in found
        if s.name in pairs
        and s.value <= 0
        and values.get((pairs[s.name], tuple(sorted(s.labels.items()))), 0) > 0
    }


KINDS: dict[str, Callable[[Iterable[Sample]], set[Place]]] = {
    FAILED_WORK: failed_work,
    intermediate_tables.UNUSABLE: unusable_tables,
    "Budgets exhausted": exhausted_budgets,
}


def expected_counts(metrics: str) -> dict[str, int]:
    """Each count of the summary line, by its data-what, as /metrics tells it."""
    found = samples(metrics)
    up = [s.value for s in found if s.name == "cleanrooms_target_up"]
    counts: dict[str, int] = defaultdict(int)
    counts["targets"] = len(up)
    counts["up"] = sum(1 for v in up if v == 1)
    counts["failing-targets"] = sum(1 for v in up if v == 0)
    counts["failing-collectors"] = sum(
        1
        for s in found
        if s.name == "cleanrooms_collector_up" and s.labels["collector"] != PRIMARY and s.value == 0
    )
    for s in found:
        if s.name == "cleanrooms_collaborations" and s.labels["member_status"] == "INVITED":
            counts["pending"] += int(s.value)
        if s.name == "cleanrooms_untrusted_pending_invitations":
            counts["untrusted"] += int(s.value)
    for kind, rule in KINDS.items():
        counts[kind] = len(rule(found))
    return dict(counts)
