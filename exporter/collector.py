"""Turn the current poll snapshot and API tallies into Prometheus metric families.

``collect()`` reads one snapshot reference and never calls AWS. Sample output::

    # HELP cleanrooms_collaborations Collaborations of this member by member status. Polled ...
    # TYPE cleanrooms_collaborations gauge
    cleanrooms_collaborations{account_id="111111111111",member_status="ACTIVE",region="eu-west-2"} 3
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from exporter import families
from exporter.families import label
from exporter.model import Snapshot, TargetKey, TargetState
from exporter.stats import ApiStats, ApiStatsView

__all__ = ["CleanRoomsCollector", "CollectorSettings", "ScrapeView", "label"]


@dataclass(frozen=True)
class CollectorSettings:
    """The parts of the configuration that shape the output."""

    stale_after: float
    per_collaboration_metrics: bool
    trusted_creator_accounts: tuple[str, ...]

    @property
    def trusted(self) -> tuple[str, ...] | None:
        """The allow-list, or None when none is set (then no untrusted series is exported)."""
        return self.trusted_creator_accounts or None


@dataclass(frozen=True)
class ScrapeView:
    """Everything one scrape renders, read once at its start."""

    states: tuple[TargetState, ...]  # sorted by target key
    fresh: frozenset[TargetKey]
    settings: CollectorSettings
    now: float
    api: ApiStatsView

    def fresh_states(self) -> list[TargetState]:
        return [s for s in self.states if s.target.key in self.fresh]


def is_fresh(state: TargetState, monotonic_now: float, stale_after: float) -> bool:
    """Whether the target has data from a poll younger than ``stale_after``."""
    return (
        state.data is not None
        and state.last_success_monotonic is not None
        and monotonic_now - state.last_success_monotonic <= stale_after
    )


class CleanRoomsCollector(Collector):
    """Yields every cleanrooms_* family from the latest snapshot."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        stats: ApiStats,
        settings: Callable[[], CollectorSettings],
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._snapshot = snapshot
        self._stats = stats
        self._settings = settings
        self._clock = clock
        self._monotonic = monotonic

    def describe(self) -> Iterator[Metric]:
        # Nothing to pre-declare: spares the registry a full collect at registration.
        return iter([])

    def view(self) -> ScrapeView:
        """Read the snapshot, settings, clocks and tallies once, for one consistent scrape."""
        settings = self._settings()
        states = tuple(sorted(self._snapshot().states.values(), key=lambda s: s.target.key))
        monotonic_now = self._monotonic()
        fresh = frozenset(
            s.target.key for s in states if is_fresh(s, monotonic_now, settings.stale_after)
        )
        return ScrapeView(states, fresh, settings, self._clock(), self._stats.view())

    def collect(self) -> Iterator[Metric]:
        yield from all_families(self.view())


def all_families(view: ScrapeView) -> list[Metric]:
    """Every family of one scrape, in exposition order."""
    settings = view.settings
    fresh = view.fresh_states()
    return [
        *families.data_families(fresh, settings.trusted, settings.per_collaboration_metrics),
        families.age_family(fresh, view.now),
        families.account_info(view.states),
        *families.health_families(view.states),
        families.stale_family(view.states, view.fresh),
        *families.api_families(view.api.targets, [s.target.key for s in view.states]),
        families.duration_family(view.api),
        *families.exporter_families(len(view.states)),
    ]
