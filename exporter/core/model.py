"""Plain, immutable data passed from the poller to the collector and the web page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar

TargetKey = tuple[str, str]  # (account_id, region)
D = TypeVar("D")


@dataclass(frozen=True, slots=True)
class Target:
    """One (account, region) pair that is polled on its own schedule."""

    account_id: str
    region: str
    account_name: str = ""
    # Adjustable AWS quotas this target's account overrides: (name, limit), sorted.
    quotas: tuple[tuple[str, int], ...] = ()

    @property
    def key(self) -> TargetKey:
        return (self.account_id, self.region)


@dataclass(frozen=True, slots=True)
class PollError:
    """Why a poll failed: the AWS operation, its error code, and a secret-free message."""

    operation: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class CollectorState(Generic[D]):
    """One collector's knowledge of one target after its latest poll. Replaced whole.

    ``data`` is the collector's own frozen model (``PollData`` for collaborations).
    """

    target: Target
    data: D | None = None  # last good data, possibly stale
    up: bool = False
    polled: bool = False
    polls: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_success: float | None = None  # wall-clock time of the last good poll
    # Monotonic time of the same poll: staleness must not jump with the wall clock.
    last_success_monotonic: float | None = None
    last_duration: float | None = None
    last_error: PollError | None = None


CollectorStates = Mapping[TargetKey, CollectorState[Any]]


def _empty() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state of every target at one moment; the collector reads one snapshot per scrape.

    ``states`` is the primary collector's (``primary`` names it; its health is the
    target's own); ``collectors`` holds every other enabled collector's states by name.
    """

    states: Mapping[TargetKey, CollectorState[Any]] = field(default_factory=_empty)
    collectors: Mapping[str, CollectorStates] = field(default_factory=_empty)
    primary: str = ""

    def by_collector(self) -> dict[str, CollectorStates]:
        """Every enabled collector's states by name, the primary's first."""
        return {self.primary: self.states, **self.collectors}

    @property
    def ready(self) -> bool:
        """True once every enabled collector has finished at least one poll of every target."""
        return all(state.polled for state in self.states.values()) and all(
            state.polled for states in self.collectors.values() for state in states.values()
        )


@dataclass(frozen=True)
class DiscoveryStatus:
    """What the metrics say about discovery."""

    up: bool = False
    accounts: int = 0
    runs: int = 0
    failures: int = 0
    last_success: float | None = None


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """One poll worker process, as its metrics say: running, restarts, targets it owns."""

    index: int
    up: bool
    restarts: int
    targets: int


@dataclass(frozen=True, slots=True)
class Spend:
    """What one membership's analyses cost and how many failed, within the collector's window."""

    key: TargetKey
    collaboration_id: str
    crpu_hours: float
    failed: int
    window: float  # seconds: the collector's lookback


# How soon a finding needs a person, most urgent first: the status page sorts by it.
EXHAUSTED, FAILING, RUNNING_LOW = 0, 1, 2

# What a finding asks of a person, most pressing first; the status page colours it so.
# ACTION (red) needs someone to act and is counted in the page's summary line. AT_LIMIT
# (amber) is at a limit but working as designed: work queues at a concurrency quota, a
# budget or a retention period runs out. INFO (neutral) is worth knowing.
ACTION, AT_LIMIT, INFO = "action", "at_limit", "info"
SEVERITIES = (ACTION, AT_LIMIT, INFO)

# The kind that several collectors report (analyses, ML resources, intermediate tables):
# the page lists and counts each kind as one group, whichever collector found it.
FAILED_WORK = "Failed work"
# Tables partners cannot query (intermediate tables, schemas that are not ready).
UNUSABLE = "Tables that cannot be queried"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing about a membership (or a whole target) that the status page lists."""

    key: TargetKey
    membership_id: str  # "" for what belongs to the target itself (ML audience models)
    urgency: int  # EXHAUSTED, FAILING or RUNNING_LOW
    what: str  # plain text; resource ARNs inside it are listed in ``resources``
    resources: tuple[str, ...] = ()  # ARNs the page shortens to their names, full on hover
    # The group it is listed and counted under ("Budgets exhausted"), whichever collector
    # found it; "" lists it under its collector's name.
    kind: str = ""
    # ACTION, AT_LIMIT or INFO; "" follows the urgency: RUNNING_LOW is AT_LIMIT, others ACTION.
    severity: str = ""
    # How bad within its kind (how many failed, how many hours): the page shows the worst first.
    weight: float = 0.0

    def __post_init__(self) -> None:
        if not self.severity:
            level = AT_LIMIT if self.urgency == RUNNING_LOW else ACTION
            object.__setattr__(self, "severity", level)
        elif self.severity not in SEVERITIES:
            raise ValueError(f"finding severity {self.severity!r}: not one of {SEVERITIES}")
