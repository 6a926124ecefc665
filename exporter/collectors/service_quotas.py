"""The service_quotas collector: the AWS Clean Rooms quotas Service Quotas applies to a target.

``ListServiceQuotas(ServiceCode=cleanrooms)`` lists, per account and region, the applied
value of each Clean Rooms quota: the ones raised for the account, and the concurrent vCPU
quotas for SQL and PySpark that larger worker types reach first. Quotas change rarely, so
it polls hourly. ``cleanrooms_quota_limit`` takes the applied value of each quota the
exporter knows (matched by its name in the user guide, case aside) with
``source="applied"``; the configuration's ``quotas:`` still win, and without fresh data
(denied, unreachable, off) the documented defaults stand (``exporter.config.quotas``).
Sample output::

    # TYPE cleanrooms_service_quota gauge
    cleanrooms_service_quota{...,quota_code="L-1A2B3C4D",
        quota_name="Concurrent SQL queries per account"} 10
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

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
from exporter.collectors.paging import Tokens, list_all
from exporter.core.series import OutputSettings, Samples, gauge, label

log = logging.getLogger(__name__)

OPERATION = "ListServiceQuotas"
SERVICE_CODE = "cleanrooms"
TOKENS = Tokens(size="MaxResults", token="NextToken")  # noqa: S106 (parameter names)
# Each quota the exporter knows, by its name in the Clean Rooms user guide (lower-cased).
QUOTA_NAMES = {
    "concurrent ongoing queries per membership": "membership_concurrent_queries",
    "concurrent ongoing job per membership": "membership_concurrent_jobs",
    "concurrent sql queries per account": "account_concurrent_sql_queries",
    "concurrent pyspark jobs per account": "account_concurrent_pyspark_jobs",
    "concurrent sql query vcpu usage per account": "account_concurrent_sql_vcpus",
    "concurrent pyspark job vcpu usage per account": "account_concurrent_pyspark_vcpus",
    "memberships per account": "account_memberships",
}


@dataclass(frozen=True, slots=True)
class Quota:
    """One quota as Service Quotas lists it: its code, name and applied value."""

    code: str
    name: str
    value: float


@dataclass(frozen=True, slots=True)
class QuotasData:
    """A target's Clean Rooms quotas, sorted by code, and what the exporter makes of them."""

    quotas: tuple[Quota, ...]
    applied: Mapping[str, float]  # by the exporter's quota name
    invalid_items: int = 0


def poll(context: PollContext) -> QuotasData:
    """Every page of ListServiceQuotas(ServiceCode=cleanrooms)."""
    params = {"ServiceCode": SERVICE_CODE}
    listed, _ = list_all(
        context.client, OPERATION, "Quotas", params, context.max_pages, tokens=TOKENS
    )
    return build(listed)


def build(listed: Iterable[Any]) -> QuotasData:
    """The well-formed quotas (a code listed twice: the last wins); the rest counted."""
    found: dict[str, Quota] = {}
    invalid = 0
    for item in listed:
        quota = parse(item)
        if quota is None:
            invalid += 1
        else:
            found[quota.code] = quota
    if invalid:
        log.warning("skipped %d malformed service quotas", invalid)
    quotas = tuple(found[code] for code in sorted(found))
    applied = {
        QUOTA_NAMES[q.name.lower()]: q.value for q in quotas if q.name.lower() in QUOTA_NAMES
    }
    return QuotasData(quotas, MappingProxyType(applied), invalid)


def parse(item: Any) -> Quota | None:
    """One ServiceQuota, or None when its code, name or value is missing or wrong."""
    if not isinstance(item, Mapping):
        return None
    code, name, value = item.get("QuotaCode"), item.get("QuotaName"), item.get("Value")
    if not (isinstance(code, str) and code and isinstance(name, str) and name):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return Quota(code, name, float(value))


def applied(data: QuotasData) -> Mapping[str, float]:
    return data.applied


QUOTA = gauge(
    "cleanrooms_service_quota",
    "Applied value of each AWS Clean Rooms quota Service Quotas lists for the account and "
    "region (ListServiceQuotas), by quota code and name.",
    "quota_code",
    "quota_name",
    items=(),  # a quota's name is one of AWS's few, not an item: no detail level folds it
    fold="drop",  # nor could quotas be added up
)


def samples(item: TargetData[QuotasData], _: OutputSettings, out: Samples) -> None:
    for quota in item.data.quotas:
        out.add(QUOTA, (label(quota.code), label(quota.name)), quota.value)


SPEC: CollectorSpec[QuotasData] = CollectorSpec(
    name="service_quotas",
    doc="Clean Rooms quotas as Service Quotas applies them (raised ones, vCPUs), hourly; "
    "cleanrooms_quota_limit takes them over the defaults.",
    order=200,
    polling=Polling(
        poll=poll,
        operations=(OPERATION,),
        calls=Calls("⌈Q / 100⌉, at least 1 (Q = the Clean Rooms quotas it lists)", per_target=1),
        default_interval=3600.0,
        service="service-quotas",
    ),
    rendering=Rendering(families=(QUOTA,), samples=samples, applied_quotas=applied),
    shown=Shown(probe=Probe(lambda _: {"ServiceCode": SERVICE_CODE}, page_size="MaxResults")),
)
