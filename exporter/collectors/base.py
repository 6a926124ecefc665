"""The collector contract: what every collector module declares in its ``SPEC``.

A collector owns one Clean Rooms resource. Its ``CollectorSpec`` says everything the rest of
the exporter derives from it, in three parts by concern:

- ``Polling``: the calls (``poll``, through ``PollContext.client``), the operations and the
  calls-per-poll formula, defaults, options, and which collector it fans out from;
- ``Rendering``: the metric families it declares and how one target's data fills them,
  plus the ages computed at scrape time;
- ``Shown``: what people see besides metrics: the status page's findings and spend, and
  the probe ``--check.aws`` makes (the IAM actions follow from the operations).

Scheduling, credentials, rate limits, retries, API counting and health are the core's. A
collector reaches AWS only through ``PollContext.client``, whose error answers are
``exporter.core.errors.ApiError``; it imports neither boto3, botocore, ``exporter.aws`` nor
prometheus_client. ``exporter.collectors`` finds every module with a ``SPEC``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from exporter.core.model import Finding, Spend, TargetKey
from exporter.core.series import SCRAPE_TIME, Family, OutputSettings, Samples

D = TypeVar("D")
# The boto3 client name of each service a collector may call -> the prefix of its IAM
# actions, and its name as people read it.
IAM_PREFIXES = {
    "cleanrooms": "cleanrooms",
    "cleanroomsml": "cleanrooms-ml",
    "service-quotas": "servicequotas",
}
SERVICE_TITLES = {
    "cleanrooms": "AWS Clean Rooms",
    "cleanroomsml": "AWS Clean Rooms ML",
    "service-quotas": "Service Quotas",
}


class Client(Protocol):
    """One target's handle on AWS: ``call("ListMembers", **params)`` makes one request."""

    def call(self, operation: str, **params: Any) -> Any: ...


@dataclass(frozen=True)
class PollContext:
    """What one poll of one target needs."""

    client: Client
    parent: Any  # the last good data of the collector it fans out from (None if none)
    member_status: str | None  # the top-level member_status filter
    max_pages: int
    now: float  # wall clock at the start of the poll
    previous: Any = None  # this collector's last good data for the target, if any
    options: Mapping[str, Any] = field(default_factory=dict)  # its own config keys, resolved


@dataclass(frozen=True)
class TargetData(Generic[D]):
    """One target's data for rendering: only targets whose data is not stale are passed."""

    key: TargetKey
    data: D
    # The last good data of the collector this one fans out from, fresh or not:
    # per-collaboration series of a collaboration that is gone are dropped at once.
    parent: Any = None


@dataclass(frozen=True)
class AgeSpec(Generic[D]):
    """A gauge of ``now - timestamp`` computed at scrape time (0 when there is no timestamp)."""

    name: str
    doc: str
    labels: tuple[str, ...]  # after account_id and region
    points: Callable[[TargetData[D]], list[tuple[tuple[str, ...], float | None]]]
    polled: str = SCRAPE_TIME  # the HELP text's last sentence: it changes with the clock
    # Its labels that name one item, folded away below the finest detail level (the oldest
    # age is kept); None: ``core.series.item_labels``.
    items: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Option:
    """A config key of one collector beyond enabled/interval/stale_after."""

    name: str
    kind: str  # "duration" (seconds), "count" (a positive integer) or "bool" (1.0 or 0.0)
    default: float
    doc: str


@dataclass(frozen=True)
class Calls:
    """A poll's API calls per target: the documented formula, and its figure for the bench.

    ``per_target`` and ``per_active`` give the calls of a poll in which every listing fits
    on one page: so many per target, plus so many per ACTIVE membership (collaboration).
    """

    formula: str  # as the docs print it: "⌈C / 100⌉, at least 1 (C = collaborations)"
    per_target: int = 0
    per_active: int = 0

    def minimum(self, active: int) -> int:
        """Calls of one poll of a target with ``active`` ACTIVE memberships, small listings."""
        return self.per_target + self.per_active * active


@dataclass(frozen=True)
class Polling(Generic[D]):
    """How a collector polls: its calls, schedule defaults and place among the collectors."""

    poll: Callable[[PollContext], D]
    operations: tuple[str, ...]  # AWS operations it calls, the first its main one
    calls: Calls
    default_enabled: bool = False
    default_interval: float | None = None  # None: the global poll_interval
    options: tuple[Option, ...] = ()
    # The collector whose data this one fans out from: it waits for that collector's
    # first poll of a target, and gets its last good data in PollContext.parent.
    fans_out_from: str | None = None
    # The target's own collector (exactly one): always on, on the top-level poll_interval
    # and stale_after, its health exported as cleanrooms_target_*.
    primary: bool = False
    # The error code of a poll that fans out from this collector when it has no data.
    no_data_code: str = ""
    service: str = "cleanrooms"  # the boto3 client its operations belong to


@dataclass(frozen=True)
class Rendering(Generic[D]):
    """What a collector exports: its families in exposition order, and how data fills them.

    ``samples`` adds one target's samples (cached per poll); ``ages`` grow with the clock
    and are computed per scrape.
    """

    families: tuple[Family, ...]
    samples: Callable[[TargetData[D], OutputSettings, Samples], None]
    ages: tuple[AgeSpec[D], ...] = ()
    # AWS quotas as applied to the target, by the exporter's quota name, from a fresh poll's
    # data: cleanrooms_quota_limit takes them (source="applied") over the defaults.
    applied_quotas: Callable[[D], Mapping[str, float]] | None = None

    def enabled(self, settings: OutputSettings) -> tuple[Family, ...]:
        """The families exported under ``settings``, in order."""
        return tuple(f for f in self.families if f.when(settings))


def _no_params(_: Any) -> dict[str, Any]:
    return {}


def _no_subject(_: Mapping[str, Any]) -> Any:
    return None


@dataclass(frozen=True)
class Probe:
    """The cheapest read that proves a collector can poll: its first operation, maxResults=1.

    ``params`` builds the request from the subject the collector it fans out from found
    (never None: without one the probe is not made); ``subject`` picks, from this
    collector's answer, what collectors that fan out from it probe with (the first ACTIVE
    collaboration, say).
    """

    params: Callable[[Any], dict[str, Any]] = _no_params
    subject: Callable[[Mapping[str, Any]], Any] = _no_subject
    page_size: str = "maxResults"  # the parameter set to 1 (Service Quotas: MaxResults)


@dataclass(frozen=True)
class Shown(Generic[D]):
    """What people see of a collector besides its metrics."""

    probe: Probe = field(default_factory=Probe)  # what --check.aws calls
    # What the status page lists to act on, from one target's data, at a time.
    findings: Callable[[TargetKey, D, float], list[Finding]] | None = None
    # What the status page sums as cost per collaboration, from one target's data.
    spend: Callable[[TargetKey, D], list[Spend]] | None = None


@dataclass(frozen=True)
class CollectorSpec(Generic[D]):
    """One collector: its name, what it polls, what it exports and what people see of it."""

    name: str
    doc: str
    order: int  # its place in the exposition and every listing, lowest first
    polling: Polling[D]
    rendering: Rendering[D]
    shown: Shown[D] = field(default_factory=Shown)

    @property
    def iam_prefix(self) -> str:
        """Of its IAM actions: cleanrooms, or cleanrooms-ml."""
        return IAM_PREFIXES[self.polling.service]

    @property
    def iam_actions(self) -> tuple[str, ...]:
        return tuple(f"{self.iam_prefix}:{operation}" for operation in self.polling.operations)


def epoch_seconds(value: Any) -> float | None:
    """A parsed API timestamp as Unix seconds, or None when it is missing or malformed."""
    # botocore parses the timestamp shape into an aware datetime; anything else is malformed.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.timestamp()
    return None
