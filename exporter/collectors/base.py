"""What every collector module provides, and what the core hands it: the collector contract.

A collector owns one Clean Rooms resource: the API calls (``poll``), the parse into
frozen model objects (its return value), and the metric families built from it.
Scheduling, credentials, rate limits, retries, API counting and health are the core's.
A collector reaches AWS only through ``PollContext.client``, whose error answers are
``exporter.core.errors.ApiError``: no collector imports boto3, botocore or ``exporter.aws``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from prometheus_client.core import Metric

from exporter.core.families import SCRAPE_TIME
from exporter.core.model import Finding, Spend, TargetKey


class Client(Protocol):
    """One target's handle on AWS: ``call("ListMembers", **params)`` makes one request."""

    def call(self, operation: str, **params: Any) -> Any: ...


@dataclass(frozen=True)
class PollContext:
    """What one poll of one target needs."""

    client: Client
    needed: Any  # the last good data of the collector named in SPEC.needs (None if none)
    member_status: str | None  # the top-level member_status filter
    max_pages: int
    now: float  # wall clock at the start of the poll
    previous: Any = None  # this collector's last good data for the target, if any
    options: Mapping[str, Any] = field(default_factory=dict)  # its own config keys, resolved


@dataclass(frozen=True)
class OutputSettings:
    """Top-level settings that shape what collectors export (not what they poll)."""

    trusted_creator_accounts: tuple[str, ...] = ()
    per_collaboration_metrics: bool = True

    @property
    def trusted(self) -> tuple[str, ...] | None:
        """The allow-list, or None when none is set (then no untrusted series is exported)."""
        return self.trusted_creator_accounts or None


@dataclass(frozen=True)
class Fresh:
    """One target's data for rendering: only targets whose data is not stale are passed."""

    key: TargetKey
    data: Any
    # The last good data of the collector this one needs (SPEC.needs), fresh or not:
    # per-collaboration series of a collaboration that is gone are dropped at once.
    needed: Any = None


@dataclass(frozen=True)
class AgeSpec:
    """A gauge of ``now - timestamp`` computed at scrape time (0 when there is no timestamp)."""

    name: str
    doc: str
    labels: tuple[str, ...]  # after account_id and region
    points: Callable[[Fresh], list[tuple[tuple[str, ...], float | None]]]
    polled: str = SCRAPE_TIME  # the HELP text's last sentence: it changes with the clock


@dataclass(frozen=True)
class Option:
    """A config key of one collector beyond enabled/interval/stale_after."""

    name: str
    kind: str  # "duration" (seconds), "count" (a positive integer) or "bool" (1.0 or 0.0)
    default: float
    doc: str


Families = Callable[[Sequence[Fresh], OutputSettings], list[Metric]]


def _no_params(_: Any) -> dict[str, Any]:
    return {}


def _no_sample(_: Mapping[str, Any]) -> Any:
    return None


@dataclass(frozen=True)
class Probe:
    """The cheapest read that proves a collector can poll: its first operation, maxResults=1.

    ``params`` builds the request from the sample of the collector it needs (never None:
    without one the probe is not made); ``sample`` picks, from this collector's answer,
    what collectors that need it probe with (the first ACTIVE collaboration, say).
    """

    params: Callable[[Any], dict[str, Any]] = _no_params
    sample: Callable[[Mapping[str, Any]], Any] = _no_sample


@dataclass(frozen=True)
class CollectorSpec:
    """One collector: its name, schedule defaults, API cost, poll and metric families."""

    name: str
    doc: str
    operations: tuple[str, ...]  # AWS operations it calls, for counters and docs
    default_enabled: bool
    default_interval: float | None  # None: the global poll_interval
    poll: Callable[[PollContext], Any]
    families: Families  # from data alone: cached per poll
    ages: tuple[AgeSpec, ...] = ()  # grow with the clock: computed per scrape
    options: tuple[Option, ...] = ()
    # The collector whose data this one fans out from: it waits for that collector's
    # first poll of a target, and gets its last good data in PollContext.needed.
    needs: str | None = None
    # The target's own collector (exactly one): always on, on the top-level poll_interval
    # and stale_after, its health exported as cleanrooms_target_*.
    primary: bool = False
    # The error code of a poll that needs this collector's data when there is none.
    missing_code: str = ""
    probe: Probe = field(default_factory=Probe)  # what --check.aws calls
    # What the status page lists under "to act on", from one target's data, at a time.
    findings: Callable[[TargetKey, Any, float], list[Finding]] | None = None
    # What the status page sums as cost per collaboration, from one target's data.
    spend: Callable[[TargetKey, Any], list[Spend]] | None = None
    service: str = "cleanrooms"  # the boto3 client its operations belong to (or cleanroomsml)
    iam_prefix: str = "cleanrooms"  # of its IAM actions: cleanrooms, or cleanrooms-ml

    @property
    def fan_out(self) -> bool:
        return self.needs is not None


def epoch_seconds(value: Any) -> float | None:
    """A parsed API timestamp as Unix seconds, or None when it is missing or malformed."""
    # botocore parses the timestamp shape into an aware datetime; anything else is malformed.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.timestamp()
    return None
