"""The collector registry: one module per Clean Rooms resource, listed here in output order.

Adding a resource means adding its module here; config keys, ``--collector.NAME``
flags, scheduling, health series and API counting follow from its ``SPEC``.
Collectors import only ``exporter.core`` and ``prometheus_client``, and one another
(fan-out collectors use ``collaborations``); they reach AWS through their poll context.
"""

from __future__ import annotations

from exporter.collectors import (
    change_requests,
    collaborations,
    intermediate_tables,
    members,
    memberships,
    ml_audiences,
    ml_inference_jobs,
    ml_input_channels,
    ml_trained_models,
    privacy_budgets,
    protected_jobs,
    protected_queries,
)
from exporter.collectors.base import CollectorSpec

REGISTRY: tuple[CollectorSpec, ...] = (
    collaborations.SPEC,
    memberships.SPEC,
    members.SPEC,
    change_requests.SPEC,
    protected_queries.SPEC,
    protected_jobs.SPEC,
    privacy_budgets.SPEC,
    intermediate_tables.SPEC,
    ml_trained_models.SPEC,
    ml_inference_jobs.SPEC,
    ml_input_channels.SPEC,
    ml_audiences.SPEC,
)
BY_NAME = {spec.name: spec for spec in REGISTRY}
# The target's own collector: always on, its health exported as cleanrooms_target_*.
(PRIMARY,) = (spec for spec in REGISTRY if spec.primary)

__all__ = ["BY_NAME", "PRIMARY", "REGISTRY", "CollectorSpec"]
